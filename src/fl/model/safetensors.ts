// safetensors codec: 8-byte LE header length, JSON header (dtype/shape/data_offsets, __metadata__), raw LE data.

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Largest JSON header we accept (the reference implementation uses 100 MB; ours are tiny). */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(`invalid safetensors file: ${message}`);
    this.name = 'SafetensorsError';
  }
}

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Raw little-endian bytes (a view into the decoded buffer). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Serialises Float32Array tensors (or raw tensors) with optional string metadata. */
export function encodeSafetensors(
  tensors: Record<string, { shape: number[]; data: Float32Array } | SafetensorsTensor>,
  metadata: Record<string, string> = {},
): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new SafetensorsError('tensor name __metadata__ is reserved');
    const { dtype, bytes } = 'bytes' in t
      ? { dtype: t.dtype, bytes: t.bytes }
      : { dtype: 'F32' as const, bytes: float32ToLittleEndian(t.data) };
    if (elementCount(t.shape) * DTYPE_BYTES[dtype] !== bytes.byteLength) {
      throw new SafetensorsError(`tensor '${name}': shape [${t.shape.join(', ')}] does not match ${bytes.byteLength} bytes of ${dtype}`);
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8; // keep the data section 8-byte aligned, as the reference writer does
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.allocUnsafe(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let pos = 8 + json.length;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

/** Parses and validates a whole file held in memory; throws SafetensorsError naming the problem. */
export function decodeSafetensors(file: Uint8Array): SafetensorsFile {
  if (file.byteLength < 8) throw new SafetensorsError(`file is ${file.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength64 = view.getBigUint64(0, true);
  if (headerLength64 > BigInt(Math.min(MAX_HEADER_BYTES, file.byteLength - 8))) {
    throw new SafetensorsError(`header length ${headerLength64} exceeds the ${file.byteLength - 8} bytes after it (or the ${MAX_HEADER_BYTES}-byte limit)`);
  }
  const headerLength = Number(headerLength64);
  if (headerLength < 2) throw new SafetensorsError(`header length ${headerLength} is too small for a JSON object`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new SafetensorsError(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = file.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new SafetensorsError('__metadata__ is not an object');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new SafetensorsError(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof entry !== 'object' || entry === null) throw new SafetensorsError(`tensor '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw new SafetensorsError(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      throw new SafetensorsError(`tensor '${name}' has an invalid shape`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(`tensor '${name}' has invalid data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw new SafetensorsError(`tensor '${name}' has data_offsets [${begin}, ${end}] with end before begin`);
    if (end > dataLength) throw new SafetensorsError(`tensor '${name}' ends at ${end} but only ${dataLength} data bytes are present (truncated file?)`);
    const expected = elementCount(shape as number[]) * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      throw new SafetensorsError(`tensor '${name}' spans ${end - begin} bytes but ${dtype} [${(shape as number[]).join(', ')}] needs ${expected}`);
    }
    spans.push({ name, begin, end });
    tensors.set(name, { dtype: dtype as SafetensorsDtype, shape: shape as number[], bytes: file.subarray(dataStart + begin, dataStart + end) });
  }
  // Tensors must tile the data section exactly: no overlap, no hole, nothing trailing.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const s of spans) {
    if (s.begin < cursor) throw new SafetensorsError(`tensor '${s.name}' overlaps the previous tensor (data_offsets start ${s.begin} < ${cursor})`);
    if (s.begin > cursor) throw new SafetensorsError(`hole in the data section before tensor '${s.name}' (bytes ${cursor}..${s.begin})`);
    cursor = s.end;
  }
  if (cursor !== dataLength) throw new SafetensorsError(`data section has ${dataLength} bytes but tensors cover ${cursor}`);
  return { tensors, metadata };
}

/** A tensor's values as a fresh Float32Array; the tensor must be F32 with the expected shape when one is given. */
export function tensorToFloat32(file: SafetensorsFile, name: string, expectedShape?: readonly number[]): Float32Array {
  const t = file.tensors.get(name);
  if (!t) throw new SafetensorsError(`tensor '${name}' is missing`);
  if (t.dtype !== 'F32') throw new SafetensorsError(`tensor '${name}' has dtype ${t.dtype}, expected F32`);
  if (expectedShape && (t.shape.length !== expectedShape.length || t.shape.some((s, i) => s !== expectedShape[i]))) {
    throw new SafetensorsError(`tensor '${name}' has shape [${t.shape.join(', ')}], expected [${expectedShape.join(', ')}]`);
  }
  const out = new Float32Array(t.bytes.byteLength / 4);
  if (littleEndianHost) new Uint8Array(out.buffer).set(t.bytes);
  else {
    const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  }
  return out;
}

function float32ToLittleEndian(data: Float32Array): Uint8Array {
  if (littleEndianHost) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i]!, true);
  return out;
}
