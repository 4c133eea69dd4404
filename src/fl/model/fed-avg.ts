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
  let k: number;
  // Four clients per pass over `result`: fewer read-modify-writes of the output per input byte.
  if (updates.length >= 4) {
    const [a, b, c, d] = [updates[0]!, updates[1]!, updates[2]!, updates[3]!];
    const wa = a.weights, wb = b.weights, wc = c.weights, wd = d.weights;
    const ca = a.sampleSize / total, cb = b.sampleSize / total, cc = c.sampleSize / total, cd = d.sampleSize / total;
    for (let i = 0; i < n; i++) result[i] = ca * wa[i]! + cb * wb[i]! + cc * wc[i]! + cd * wd[i]!;
    k = 4;
  } else {
    const w = updates[0]!.weights;
    const c = updates[0]!.sampleSize / total;
    for (let i = 0; i < n; i++) result[i] = c * w[i]!;
    k = 1;
  }
  for (; k + 4 <= updates.length; k += 4) {
    const wa = updates[k]!.weights, wb = updates[k + 1]!.weights, wc = updates[k + 2]!.weights, wd = updates[k + 3]!.weights;
    const ca = updates[k]!.sampleSize / total, cb = updates[k + 1]!.sampleSize / total;
    const cc = updates[k + 2]!.sampleSize / total, cd = updates[k + 3]!.sampleSize / total;
    for (let i = 0; i < n; i++) result[i] = result[i]! + ca * wa[i]! + cb * wb[i]! + cc * wc[i]! + cd * wd[i]!;
  }
  for (; k < updates.length; k++) {
    const w = updates[k]!.weights;
    const c = updates[k]!.sampleSize / total;
    for (let i = 0; i < n; i++) result[i] = result[i]! + c * w[i]!;
  }
  return result;
}
