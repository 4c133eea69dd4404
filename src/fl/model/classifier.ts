// Softmax regression and a one-hidden-layer ReLU MLP over flat Float32Array parameters (pure math).
import type { Dataset } from '../data/dataset.js';
import type { Prng } from './prng.js';

export type ModelKind = 'logreg' | 'mlp';

export interface ModelSpec {
  kind: ModelKind;
  inputs: number;
  classes: number;
  /** Hidden units (mlp only; 0 for logreg). */
  hidden: number;
}

/** One named tensor inside the flat parameter vector. */
export interface ParameterTensor {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export interface Evaluation {
  loss: number;
  accuracy: number;
  count: number;
}

export function validateModelSpec(spec: ModelSpec): void {
  const positive = (n: number) => Number.isInteger(n) && n > 0;
  if (spec.kind !== 'logreg' && spec.kind !== 'mlp') throw new RangeError(`unknown model kind '${String(spec.kind)}'`);
  if (!positive(spec.inputs)) throw new RangeError(`model inputs must be a positive integer, got ${spec.inputs}`);
  if (!positive(spec.classes) || spec.classes < 2) throw new RangeError(`model classes must be an integer ≥ 2, got ${spec.classes}`);
  if (spec.kind === 'mlp' && !positive(spec.hidden)) throw new RangeError(`mlp hidden units must be a positive integer, got ${spec.hidden}`);
}

/** The tensors (name, shape, position) of a model, in storage order; weights are [out, in]. */
export function parameterLayout(spec: ModelSpec): ParameterTensor[] {
  const shapes: Array<[string, number[]]> =
    spec.kind === 'logreg'
      ? [['weight', [spec.classes, spec.inputs]], ['bias', [spec.classes]]]
      : [
          ['hidden.weight', [spec.hidden, spec.inputs]],
          ['hidden.bias', [spec.hidden]],
          ['output.weight', [spec.classes, spec.hidden]],
          ['output.bias', [spec.classes]],
        ];
  let offset = 0;
  return shapes.map(([name, shape]) => {
    const length = shape.reduce((a, b) => a * b, 1);
    const t = { name, shape, offset, length };
    offset += length;
    return t;
  });
}

export function parameterCount(spec: ModelSpec): number {
  return parameterLayout(spec).reduce((n, t) => n + t.length, 0);
}

/** Fresh parameters: zeros for logreg, He-normal hidden / Xavier output for the MLP. */
export function initParameters(spec: ModelSpec, prng: Prng): Float32Array {
  validateModelSpec(spec);
  const params = new Float32Array(parameterCount(spec));
  if (spec.kind === 'logreg') return params;
  const [w1, , w2] = parameterLayout(spec);
  const s1 = Math.sqrt(2 / spec.inputs);
  for (let i = 0; i < w1!.length; i++) params[w1!.offset + i] = prng.normal() * s1;
  const s2 = Math.sqrt(2 / (spec.hidden + spec.classes));
  for (let i = 0; i < w2!.length; i++) params[w2!.offset + i] = prng.normal() * s2;
  return params;
}

/** Scratch buffers reused across batches of one model. */
class Workspace {
  readonly logits: Float64Array;
  readonly hiddenPre: Float64Array;
  readonly hiddenAct: Float64Array;
  readonly hiddenGrad: Float64Array;
  constructor(spec: ModelSpec) {
    this.logits = new Float64Array(spec.classes);
    this.hiddenPre = new Float64Array(spec.hidden);
    this.hiddenAct = new Float64Array(spec.hidden);
    this.hiddenGrad = new Float64Array(spec.hidden);
  }
}

/** Turns logits into probabilities in place; returns log-sum-exp. */
function softmaxInPlace(z: Float64Array): number {
  let max = -Infinity;
  for (let c = 0; c < z.length; c++) if (z[c]! > max) max = z[c]!;
  let sum = 0;
  for (let c = 0; c < z.length; c++) {
    z[c] = Math.exp(z[c]! - max);
    sum += z[c]!;
  }
  for (let c = 0; c < z.length; c++) z[c] = z[c]! / sum;
  return max + Math.log(sum);
}

/** Dense layer: out = W x + b with W [rows, cols] at wOff, b at bOff. */
function dense(params: Float32Array, wOff: number, bOff: number, x: ArrayLike<number>, xOff: number, cols: number, out: Float64Array): void {
  for (let r = 0; r < out.length; r++) {
    let s = params[bOff + r]!;
    const row = wOff + r * cols;
    for (let k = 0; k < cols; k++) s += params[row + k]! * x[xOff + k]!;
    out[r] = s;
  }
}

/** Forward pass of one sample; leaves class probabilities in ws.logits and returns the sample's loss. */
function forward(spec: ModelSpec, params: Float32Array, features: Float32Array, row: number, label: number, ws: Workspace): number {
  const d = spec.inputs;
  const xOff = row * d;
  if (spec.kind === 'logreg') {
    dense(params, 0, spec.classes * d, features, xOff, d, ws.logits);
  } else {
    const h = spec.hidden;
    dense(params, 0, h * d, features, xOff, d, ws.hiddenPre);
    for (let j = 0; j < h; j++) ws.hiddenAct[j] = ws.hiddenPre[j]! > 0 ? ws.hiddenPre[j]! : 0;
    const w2 = h * d + h;
    dense(params, w2, w2 + spec.classes * h, ws.hiddenAct, 0, h, ws.logits);
  }
  const zy = ws.logits[label]!;
  const lse = softmaxInPlace(ws.logits);
  return lse - zy;
}

/**
 * Mean cross-entropy of the rows `rows[from..to)` and its gradient, accumulated into `grad`
 * (which the caller zeroes). FedProx: with `anchor` and `mu > 0`, adds mu/2·‖w − anchor‖².
 */
export function lossAndGradient(
  spec: ModelSpec,
  params: Float32Array,
  data: Dataset,
  rows: ArrayLike<number>,
  from: number,
  to: number,
  grad: Float32Array,
  prox?: { anchor: Float32Array; mu: number },
  workspace?: unknown,
): number {
  const ws = (workspace as Workspace | undefined) ?? new Workspace(spec);
  const d = spec.inputs;
  const C = spec.classes;
  const n = to - from;
  const inv = 1 / n;
  let loss = 0;
  for (let i = from; i < to; i++) {
    const row = rows[i]!;
    const y = data.labels[row]!;
    loss += forward(spec, params, data.features, row, y, ws);
    const p = ws.logits;
    p[y] = p[y]! - 1; // p now holds dL/dz for this sample
    const xOff = row * d;
    if (spec.kind === 'logreg') {
      const bOff = C * d;
      for (let c = 0; c < C; c++) {
        const g = p[c]! * inv;
        const wr = c * d;
        for (let k = 0; k < d; k++) grad[wr + k] = grad[wr + k]! + g * data.features[xOff + k]!;
        grad[bOff + c] = grad[bOff + c]! + g;
      }
    } else {
      const h = spec.hidden;
      const w2 = h * d + h;
      const b2 = w2 + C * h;
      ws.hiddenGrad.fill(0);
      for (let c = 0; c < C; c++) {
        const g = p[c]! * inv;
        const wr = w2 + c * h;
        for (let j = 0; j < h; j++) {
          grad[wr + j] = grad[wr + j]! + g * ws.hiddenAct[j]!;
          ws.hiddenGrad[j] = ws.hiddenGrad[j]! + params[wr + j]! * g;
        }
        grad[b2 + c] = grad[b2 + c]! + g;
      }
      const b1 = h * d;
      for (let j = 0; j < h; j++) {
        if (ws.hiddenPre[j]! <= 0) continue;
        const g = ws.hiddenGrad[j]!;
        const wr = j * d;
        for (let k = 0; k < d; k++) grad[wr + k] = grad[wr + k]! + g * data.features[xOff + k]!;
        grad[b1 + j] = grad[b1 + j]! + g;
      }
    }
  }
  loss *= inv;
  if (prox && prox.mu > 0) {
    let sq = 0;
    const { anchor, mu } = prox;
    for (let i = 0; i < params.length; i++) {
      const diff = params[i]! - anchor[i]!;
      sq += diff * diff;
      grad[i] = grad[i]! + mu * diff;
    }
    loss += 0.5 * mu * sq;
  }
  return loss;
}

export function createWorkspace(spec: ModelSpec): unknown {
  return new Workspace(spec);
}

/** Mean cross-entropy and accuracy of a model over a whole dataset. */
export function evaluate(spec: ModelSpec, params: Float32Array, data: Dataset): Evaluation {
  if (data.count === 0) return { loss: 0, accuracy: 0, count: 0 };
  const ws = new Workspace(spec);
  let loss = 0;
  let correct = 0;
  for (let row = 0; row < data.count; row++) {
    const y = data.labels[row]!;
    loss += forward(spec, params, data.features, row, y, ws);
    let best = 0;
    for (let c = 1; c < spec.classes; c++) if (ws.logits[c]! > ws.logits[best]!) best = c;
    if (best === y) correct++;
  }
  return { loss: loss / data.count, accuracy: correct / data.count, count: data.count };
}

/** Predicted class of one feature row. */
export function predict(spec: ModelSpec, params: Float32Array, features: Float32Array): number {
  const ws = new Workspace(spec);
  const data = { features, labels: new Int32Array(1), count: 1, dimensions: spec.inputs };
  forward(spec, params, data.features, 0, 0, ws);
  let best = 0;
  for (let c = 1; c < spec.classes; c++) if (ws.logits[c]! > ws.logits[best]!) best = c;
  return best;
}
