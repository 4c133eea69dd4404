// A global model as one safetensors file: trainable tensors, the input standardizer, and a metadata header.
import type { Standardizer } from '../data/standardizer.js';
import { parameterLayout, validateModelSpec, type ModelKind, type ModelSpec } from './classifier.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, tensorToFloat32 } from './safetensors.js';

export const MODEL_FORMAT = 'anweddol-fl/1';

/**
 * Written into every file so that someone opening it with numpy reads `input.scale` right: a multiplier
 * (1/std), where "scale" read as a divisor scores far worse. Older files lack these keys and read the same.
 */
const INPUT_DOCUMENTATION = {
  input_transform: '(x - input.mean) * input.scale',
  'input.scale': 'multiplier: 1 / standard deviation (1 for a constant feature)',
};

export interface ModelFile {
  spec: ModelSpec;
  params: Float32Array;
  standardizer: Standardizer;
  /** Free-form string metadata (training_uuid, round, owner …). */
  metadata: Record<string, string>;
}

export function encodeModelFile(model: ModelFile): Buffer {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const t of parameterLayout(model.spec)) {
    tensors[t.name] = { shape: t.shape, data: model.params.subarray(t.offset, t.offset + t.length) };
  }
  tensors['input.mean'] = { shape: [model.spec.inputs], data: model.standardizer.mean };
  tensors['input.scale'] = { shape: [model.spec.inputs], data: model.standardizer.scale };
  return encodeSafetensors(tensors, {
    ...model.metadata,
    format: MODEL_FORMAT,
    kind: model.spec.kind,
    inputs: String(model.spec.inputs),
    classes: String(model.spec.classes),
    hidden: String(model.spec.hidden),
    ...INPUT_DOCUMENTATION,
  });
}

/**
 * Decodes and validates a model file; with `expected`, the architecture must match it exactly
 * (an upload for another model is refused before its numbers are read).
 */
export function decodeModelFile(bytes: Uint8Array, expected?: ModelSpec): ModelFile {
  const file = decodeSafetensors(bytes);
  const m = file.metadata;
  if (m.format !== MODEL_FORMAT) throw new SafetensorsError(`metadata format is ${JSON.stringify(m.format)}, expected ${MODEL_FORMAT}`);
  const spec: ModelSpec = {
    kind: m.kind as ModelKind,
    inputs: Number(m.inputs),
    classes: Number(m.classes),
    hidden: Number(m.hidden ?? 0),
  };
  try {
    validateModelSpec(spec);
  } catch (e) {
    throw new SafetensorsError(`metadata describes no valid model (${(e as Error).message})`);
  }
  if (expected && (spec.kind !== expected.kind || spec.inputs !== expected.inputs || spec.classes !== expected.classes || spec.hidden !== expected.hidden)) {
    throw new SafetensorsError(`model is ${describe(spec)}, expected ${describe(expected)}`);
  }
  const layout = parameterLayout(spec);
  const total = layout.reduce((n, t) => n + t.length, 0);
  const params = new Float32Array(total);
  for (const t of layout) {
    const values = tensorToFloat32(file, t.name, t.shape);
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) throw new SafetensorsError(`tensor '${t.name}' holds a non-finite value`);
    params.set(values, t.offset);
  }
  const known = new Set([...layout.map((t) => t.name), 'input.mean', 'input.scale']);
  for (const name of file.tensors.keys()) if (!known.has(name)) throw new SafetensorsError(`unexpected tensor '${name}'`);
  const standardizer = {
    mean: tensorToFloat32(file, 'input.mean', [spec.inputs]),
    scale: tensorToFloat32(file, 'input.scale', [spec.inputs]),
  };
  const metadata = { ...m };
  for (const k of ['format', 'kind', 'inputs', 'classes', 'hidden', ...Object.keys(INPUT_DOCUMENTATION)]) delete metadata[k];
  return { spec, params, standardizer, metadata };
}

function describe(s: ModelSpec): string {
  return s.kind === 'mlp' ? `mlp ${s.inputs}→${s.hidden}→${s.classes}` : `logreg ${s.inputs}→${s.classes}`;
}
