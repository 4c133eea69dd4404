// Minibatch SGD over a local dataset, optionally with the FedProx proximal term (pure, deterministic per seed).
import type { Dataset } from '../data/dataset.js';
import { createWorkspace, lossAndGradient, type ModelSpec } from './classifier.js';
import { Prng } from './prng.js';

export interface SgdOptions {
  epochs: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  /** FedProx: proximal coefficient; 0 = plain FedAvg client. */
  mu?: number;
}

export interface LocalTrainingResult {
  params: Float32Array;
  /** Mean training loss over the last epoch's batches. */
  loss: number;
  sampleSize: number;
}

export function assertDatasetFits(spec: ModelSpec, data: Dataset): void {
  if (data.dimensions !== spec.inputs) throw new RangeError(`data has ${data.dimensions} features, model expects ${spec.inputs}`);
  for (let i = 0; i < data.count; i++) {
    const y = data.labels[i]!;
    if (!(y >= 0 && y < spec.classes)) throw new RangeError(`label ${y} at row ${i} is outside 0..${spec.classes - 1}`);
  }
}

/** Trains a copy of `initial` on `data`; `initial` is left untouched (and is the FedProx anchor). */
export function trainLocal(spec: ModelSpec, initial: Float32Array, data: Dataset, options: SgdOptions): LocalTrainingResult {
  assertDatasetFits(spec, data);
  if (!(options.epochs >= 0) || !(options.learningRate > 0) || !(options.batchSize >= 1)) {
    throw new RangeError('epochs must be ≥ 0, learningRate > 0 and batchSize ≥ 1');
  }
  const params = Float32Array.from(initial);
  const grad = new Float32Array(params.length);
  const ws = createWorkspace(spec);
  const prng = new Prng(options.seed);
  const order = new Uint32Array(data.count);
  for (let i = 0; i < data.count; i++) order[i] = i;
  const prox = options.mu !== undefined && options.mu > 0 ? { anchor: initial, mu: options.mu } : undefined;
  let lastLoss = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    prng.shuffle(order);
    let lossSum = 0;
    let batches = 0;
    for (let from = 0; from < data.count; from += options.batchSize) {
      const to = Math.min(from + options.batchSize, data.count);
      grad.fill(0);
      lossSum += lossAndGradient(spec, params, data, order, from, to, grad, prox, ws);
      batches++;
      const lr = options.learningRate;
      for (let i = 0; i < params.length; i++) params[i] = params[i]! - lr * grad[i]!;
    }
    lastLoss = batches > 0 ? lossSum / batches : 0;
  }
  return { params, loss: lastLoss, sampleSize: data.count };
}
