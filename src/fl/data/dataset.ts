// A labelled numeric data set held row-major in one Float32Array (pure data, no I/O).

export interface Dataset {
  /** Row-major features, `count * dimensions` values. */
  features: Float32Array;
  /** Integer class labels, `count` values. */
  labels: Int32Array;
  count: number;
  dimensions: number;
}

/** Copies the given rows (by index) into a new dataset. */
export function selectRows(data: Dataset, rows: ArrayLike<number>): Dataset {
  const d = data.dimensions;
  const features = new Float32Array(rows.length * d);
  const labels = new Int32Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const src = rows[r]!;
    features.set(data.features.subarray(src * d, src * d + d), r * d);
    labels[r] = data.labels[src]!;
  }
  return { features, labels, count: rows.length, dimensions: d };
}

/** Number of classes implied by the labels (max label + 1). */
export function classCount(data: Dataset): number {
  let max = -1;
  for (let i = 0; i < data.count; i++) if (data.labels[i]! > max) max = data.labels[i]!;
  return max + 1;
}
