// The server optimizer's state as bytes for the training's store: safetensors with F64 moments and the step count.
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from '../model/safetensors.js';
import type { OptimizerState } from './fed-opt.js';

const FORMAT = 'anweddol-fl-optimizer/1';

export function encodeOptimizerState(state: OptimizerState): Buffer {
  const tensors: Record<string, { dtype: 'F64'; shape: number[]; bytes: Uint8Array }> = {};
  for (const [name, moment] of [['m', state.m], ['v', state.v]] as const) {
    if (moment) tensors[name] = { dtype: 'F64', shape: [moment.length], bytes: float64ToLittleEndian(moment) };
  }
  return encodeSafetensors(tensors, { format: FORMAT, step: String(state.step) });
}

export function decodeOptimizerState(bytes: Uint8Array): OptimizerState {
  const file = decodeSafetensors(bytes);
  if (file.metadata.format !== FORMAT) throw new SafetensorsError(`optimizer state format is ${JSON.stringify(file.metadata.format)}, expected ${FORMAT}`);
  const step = Number(file.metadata.step);
  if (!Number.isSafeInteger(step) || step < 0) throw new SafetensorsError('optimizer state step is not a non-negative integer');
  const moment = (name: string): Float64Array | null => {
    const t = file.tensors.get(name);
    if (!t) return null;
    if (t.dtype !== 'F64' || t.shape.length !== 1) throw new SafetensorsError(`optimizer state tensor '${name}' must be a 1-D F64 vector`);
    const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
    return Float64Array.from({ length: t.shape[0]! }, (_, i) => dv.getFloat64(i * 8, true));
  };
  return { step, m: moment('m'), v: moment('v') };
}

function float64ToLittleEndian(data: Float64Array): Uint8Array {
  const out = new Uint8Array(data.length * 8);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat64(i * 8, data[i]!, true);
  return out;
}
