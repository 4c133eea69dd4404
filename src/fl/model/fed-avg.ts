// FedAvg: the sample-size-weighted mean of client weight vectors (a tight loop, no per-element allocation;
// WebAssembly SIMD for large vectors when the runtime has it).

export interface WeightedUpdate {
  weights: Float32Array;
  sampleSize: number;
}

/** Writes Σ (n_k / N) · w_k into `out` (allocated when absent) and returns it. */
export function fedAvg(updates: readonly WeightedUpdate[], out?: Float32Array): Float32Array {
  if (updates.length === 0) throw new RangeError('FedAvg needs at least one update');
  const n = updates[0]!.weights.length;
  let total = 0;
  for (const u of updates) {
    if (u.weights.length !== n) throw new RangeError(`FedAvg: update has ${u.weights.length} weights, expected ${n}`);
    if (!(Number.isFinite(u.sampleSize) && u.sampleSize > 0)) throw new RangeError(`FedAvg: sample size must be > 0, got ${u.sampleSize}`);
    total += u.sampleSize;
  }
  const result = out ?? new Float32Array(n);
  if (result.length !== n) throw new RangeError(`FedAvg: output has ${result.length} slots, expected ${n}`);
  if (n >= SIMD_MIN_LENGTH) {
    const kernel = simdKernel();
    if (kernel) return kernel(updates, total, result);
  }
  const w = (k: number) => updates[k]!.weights;
  const c = (k: number) => updates[k]!.sampleSize / total;
  // Up to eight clients per pass over `result`: fewer read-modify-writes of the output per input byte.
  // The first pass overwrites `result` (whatever it held, NaN included), later passes accumulate.
  let k = 0;
  let first = true;
  for (; k + 8 <= updates.length; k += 8, first = false) {
    const w0 = w(k), w1 = w(k + 1), w2 = w(k + 2), w3 = w(k + 3), w4 = w(k + 4), w5 = w(k + 5), w6 = w(k + 6), w7 = w(k + 7);
    const c0 = c(k), c1 = c(k + 1), c2 = c(k + 2), c3 = c(k + 3), c4 = c(k + 4), c5 = c(k + 5), c6 = c(k + 6), c7 = c(k + 7);
    if (first) for (let i = 0; i < n; i++) result[i] = c0 * w0[i]! + c1 * w1[i]! + c2 * w2[i]! + c3 * w3[i]! + c4 * w4[i]! + c5 * w5[i]! + c6 * w6[i]! + c7 * w7[i]!;
    else for (let i = 0; i < n; i++) result[i] = result[i]! + c0 * w0[i]! + c1 * w1[i]! + c2 * w2[i]! + c3 * w3[i]! + c4 * w4[i]! + c5 * w5[i]! + c6 * w6[i]! + c7 * w7[i]!;
  }
  for (; k + 4 <= updates.length; k += 4, first = false) {
    const w0 = w(k), w1 = w(k + 1), w2 = w(k + 2), w3 = w(k + 3);
    const c0 = c(k), c1 = c(k + 1), c2 = c(k + 2), c3 = c(k + 3);
    if (first) for (let i = 0; i < n; i++) result[i] = c0 * w0[i]! + c1 * w1[i]! + c2 * w2[i]! + c3 * w3[i]!;
    else for (let i = 0; i < n; i++) result[i] = result[i]! + c0 * w0[i]! + c1 * w1[i]! + c2 * w2[i]! + c3 * w3[i]!;
  }
  for (; k + 2 <= updates.length; k += 2, first = false) {
    const w0 = w(k), w1 = w(k + 1), c0 = c(k), c1 = c(k + 1);
    if (first) for (let i = 0; i < n; i++) result[i] = c0 * w0[i]! + c1 * w1[i]!;
    else for (let i = 0; i < n; i++) result[i] = result[i]! + c0 * w0[i]! + c1 * w1[i]!;
  }
  for (; k < updates.length; k++, first = false) {
    const w0 = w(k), c0 = c(k);
    if (first) for (let i = 0; i < n; i++) result[i] = c0 * w0[i]!;
    else for (let i = 0; i < n; i++) result[i] = result[i]! + c0 * w0[i]!;
  }
  return result;
}

const SIMD_MIN_LENGTH = 4096;

/** Whether vectors of ≥ 4096 weights take the WebAssembly SIMD path here. */
export function fedAvgUsesSimd(): boolean {
  return simdKernel() !== null;
}
/** Floats per block: the output block and one client's staged block both stay in L1/L2. */
const BLOCK = 16384;

/** The slice of the WebAssembly JS API used here (the project's `lib` setting has no DOM typings). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (d: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}

type Kernel = (updates: readonly WeightedUpdate[], total: number, result: Float32Array) => Float32Array;
let kernel: Kernel | null | undefined;

/**
 * `acc(out, in, n4, c)`: out[i] += c · in[i] over n4 groups of four f32 (f32x4), addresses in bytes.
 * Hand-assembled so the package needs no toolchain; validated at load, scalar path if refused.
 */
function simdModuleBytes(): Uint8Array {
  const leb = (v: number): number[] => {
    const out: number[] = [];
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v) b |= 0x80;
      out.push(b);
    } while (v);
    return out;
  };
  const body = [
    0x01, 0x01, 0x7b, // one v128 local
    0x20, 0x03, 0xfd, 0x13, 0x21, 0x04, // local4 = f32x4.splat(c)
    0x02, 0x40, 0x20, 0x02, 0x45, 0x0d, 0x00, // block; if n4 == 0 leave
    0x03, 0x40, // loop
    0x20, 0x00, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, // out addr; v128.load out
    0x20, 0x01, 0xfd, 0x00, 0x04, 0x00, 0x20, 0x04, 0xfd, 0xe6, 0x01, // v128.load in; f32x4.mul c
    0xfd, 0xe4, 0x01, 0xfd, 0x0b, 0x04, 0x00, // f32x4.add; v128.store
    0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, // out += 16
    0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, // in += 16
    0x20, 0x02, 0x41, 0x01, 0x6b, 0x22, 0x02, 0x0d, 0x00, // if (--n4) continue
    0x0b, 0x0b, 0x0b,
  ];
  const section = (id: number, bytes: number[]) => [id, ...leb(bytes.length), ...bytes];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7d, 0x00]), // (i32, i32, i32, f32) -> ()
    ...section(2, [0x01, 0x01, 0x6d, 0x01, 0x6d, 0x02, 0x00, 0x01]), // import memory m.m, 1 page min
    ...section(3, [0x01, 0x00]),
    ...section(7, [0x01, 0x03, 0x61, 0x63, 0x63, 0x00, 0x00]), // export "acc"
    ...section(10, [0x01, ...leb(body.length), ...body]),
  ]);
}

function simdKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  kernel = null;
  try {
    const bytes = simdModuleBytes();
    const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
    if (!wasm || !wasm.validate(bytes)) return null;
    const memory = new wasm.Memory({ initial: (2 * BLOCK * 4) / 65536 });
    const acc = new wasm.Instance(new wasm.Module(bytes), { m: { m: memory } }).exports.acc as (o: number, i: number, n4: number, c: number) => void;
    const outBlock = new Float32Array(memory.buffer, 0, BLOCK);
    const stage = new Float32Array(memory.buffer, BLOCK * 4, BLOCK);
    kernel = (updates, total, result) => {
      const n = result.length;
      for (let start = 0; start < n; start += BLOCK) {
        const len = Math.min(BLOCK, n - start);
        const vec = len & ~3;
        outBlock.fill(0, 0, len);
        for (const u of updates) {
          stage.set(u.weights.subarray(start, start + len));
          acc(0, BLOCK * 4, vec >> 2, u.sampleSize / total);
        }
        for (let i = vec; i < len; i++) {
          let v = 0;
          for (const u of updates) v += (u.sampleSize / total) * u.weights[start + i]!;
          outBlock[i] = v;
        }
        result.set(outBlock.subarray(0, len), start);
      }
      return result;
    };
  } catch {
    kernel = null;
  }
  return kernel;
}
