// FedAvg: the sample-size-weighted mean of client weight vectors (a tight loop, no per-element allocation).

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
