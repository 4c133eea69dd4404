// Feature standardisation whose statistics are combined from per-client sums, sums of squares and counts.
import type { Dataset } from './dataset.js';

/** What a client reveals about its shard: no raw rows, only per-feature sums. */
export interface FeatureStatistics {
  count: number;
  sum: number[];
  sumSquares: number[];
}

export interface Standardizer {
  mean: Float32Array;
  /** 1 / standard deviation (1 for constant features). */
  scale: Float32Array;
}

export function computeFeatureStatistics(data: Dataset): FeatureStatistics {
  const d = data.dimensions;
  const sum = new Array<number>(d).fill(0);
  const sumSquares = new Array<number>(d).fill(0);
  for (let r = 0; r < data.count; r++) {
    const off = r * d;
    for (let k = 0; k < d; k++) {
      const v = data.features[off + k]!;
      sum[k] += v;
      sumSquares[k] += v * v;
    }
  }
  return { count: data.count, sum, sumSquares };
}

export function validateFeatureStatistics(value: unknown, dimensions: number): FeatureStatistics {
  const s = value as Partial<FeatureStatistics> | null;
  const numbers = (a: unknown) => Array.isArray(a) && a.length === dimensions && a.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (typeof s !== 'object' || s === null || !Number.isSafeInteger(s.count) || (s.count as number) < 0 || !numbers(s.sum) || !numbers(s.sumSquares)) {
    throw new RangeError(`feature statistics must be {count, sum[${dimensions}], sumSquares[${dimensions}]} with finite numbers`);
  }
  return { count: s.count as number, sum: s.sum as number[], sumSquares: s.sumSquares as number[] };
}

/** Pooled mean and (population) standard deviation from the clients' statistics. */
export function combineFeatureStatistics(parts: readonly FeatureStatistics[], epsilon = 1e-6): Standardizer {
  if (parts.length === 0) throw new RangeError('no feature statistics to combine');
  const d = parts[0]!.sum.length;
  let n = 0;
  const sum = new Float64Array(d);
  const sq = new Float64Array(d);
  for (const p of parts) {
    if (p.sum.length !== d || p.sumSquares.length !== d) throw new RangeError('feature statistics disagree on the number of features');
    n += p.count;
    for (let k = 0; k < d; k++) {
      sum[k] = sum[k]! + p.sum[k]!;
      sq[k] = sq[k]! + p.sumSquares[k]!;
    }
  }
  if (n === 0) throw new RangeError('feature statistics cover no samples');
  const mean = new Float32Array(d);
  const scale = new Float32Array(d);
  for (let k = 0; k < d; k++) {
    const m = sum[k]! / n;
    const variance = Math.max(0, sq[k]! / n - m * m);
    const std = Math.sqrt(variance);
    mean[k] = m;
    scale[k] = std > epsilon ? 1 / std : 1;
  }
  return { mean, scale };
}

/** A standardised copy of the data set. */
export function standardize(data: Dataset, s: Standardizer): Dataset {
  const d = data.dimensions;
  if (s.mean.length !== d) throw new RangeError(`standardizer has ${s.mean.length} features, data has ${d}`);
  const features = new Float32Array(data.features.length);
  for (let r = 0; r < data.count; r++) {
    const off = r * d;
    for (let k = 0; k < d; k++) features[off + k] = (data.features[off + k]! - s.mean[k]!) * s.scale[k]!;
  }
  return { features, labels: data.labels, count: data.count, dimensions: d };
}
