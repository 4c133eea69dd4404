// Server optimizers over the FedAvg pseudo-gradient (FedAvgM, FedAdam, FedYogi, FedAdagrad): one base, four update rules (pure).
import type { ServerOptimizerOptions } from './strategy.js';

/** The server optimizer's memory, plain data so the training's store can keep it between rounds (and restarts). */
export interface OptimizerState {
  /** Server steps taken so far. */
  step: number;
  /** First moment (FedAdam/FedYogi/FedAdagrad) or momentum buffer (FedAvgM); null before the first step. */
  m: Float64Array | null;
  /** Second moment; null before the first step and for FedAvgM. */
  v: Float64Array | null;
}

export const initialOptimizerState = (): OptimizerState => ({ step: 0, m: null, v: null });

/**
 * Writes the server step for every element into `out`, updating `m` and `v` in place.
 * `delta` = FedAvg − current (the negated pseudo-gradient); `t` is the 1-based step number.
 */
export interface UpdateRule {
  usesSecondMoment: boolean;
  apply(delta: Float64Array, m: Float64Array, v: Float64Array, t: number, o: ServerOptimizerOptions, out: Float64Array): void;
}

const adamFirstMoment = (m: Float64Array, d: Float64Array, i: number, b1: number) => (m[i] = b1 * m[i]! + (1 - b1) * d[i]!);

export const FED_OPT_RULES = {
  /** Hsu et al.: m ← μ·m + (current − avg); current ← current − η·m (PyTorch SGD convention, as Flower). */
  fedavgm: {
    usesSecondMoment: false,
    apply(d, m, _v, _t, o, out) {
      for (let i = 0; i < d.length; i++) {
        m[i] = o.serverMomentum * m[i]! - d[i]!;
        out[i] = -o.serverLearningRate * m[i]!;
      }
    },
  },
  /** Adam with Kingma & Ba's bias correction folded into the rate: η·√(1−β2ᵗ)/(1−β1ᵗ) · m/(√v + τ). */
  fedadam: {
    usesSecondMoment: true,
    apply(d, m, v, t, o, out) {
      const rate = (o.serverLearningRate * Math.sqrt(1 - o.beta2 ** t)) / (1 - o.beta1 ** t);
      for (let i = 0; i < d.length; i++) {
        adamFirstMoment(m, d, i, o.beta1);
        v[i] = o.beta2 * v[i]! + (1 - o.beta2) * d[i]! * d[i]!;
        out[i] = (rate * m[i]!) / (Math.sqrt(v[i]!) + o.tau);
      }
    },
  },
  /** Yogi: v ← v − (1−β2)·δ²·sign(v − δ²), so v grows only as fast as δ² demands. */
  fedyogi: {
    usesSecondMoment: true,
    apply(d, m, v, _t, o, out) {
      for (let i = 0; i < d.length; i++) {
        adamFirstMoment(m, d, i, o.beta1);
        const d2 = d[i]! * d[i]!;
        v[i] = v[i]! - (1 - o.beta2) * d2 * Math.sign(v[i]! - d2);
        out[i] = (o.serverLearningRate * m[i]!) / (Math.sqrt(v[i]!) + o.tau);
      }
    },
  },
  /** Adagrad: v accumulates δ²; β1 is 0 as in Flower, so m is this round's δ. */
  fedadagrad: {
    usesSecondMoment: true,
    apply(d, m, v, _t, o, out) {
      for (let i = 0; i < d.length; i++) {
        m[i] = d[i]!;
        v[i] = v[i]! + d[i]! * d[i]!;
        out[i] = (o.serverLearningRate * m[i]!) / (Math.sqrt(v[i]!) + o.tau);
      }
    },
  },
} satisfies Record<string, UpdateRule>;

export class OptimizerStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptimizerStateError';
  }
}

/** One server step: new parameters and a new state (the given state is left untouched). */
export function fedOptStep(
  rule: UpdateRule,
  options: ServerOptimizerOptions,
  current: Float32Array,
  averaged: Float32Array,
  state: OptimizerState,
): { params: Float32Array; state: OptimizerState } {
  const n = current.length;
  if (averaged.length !== n) throw new RangeError(`server optimizer: aggregate has ${averaged.length} weights, model has ${n}`);
  const m = copyMoment(state.m, n, 'm');
  const v = rule.usesSecondMoment ? copyMoment(state.v, n, 'v') : null;
  const delta = new Float64Array(n);
  for (let i = 0; i < n; i++) delta[i] = averaged[i]! - current[i]!;
  const t = state.step + 1;
  const update = new Float64Array(n);
  rule.apply(delta, m, v ?? new Float64Array(0), t, options, update);
  const params = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    params[i] = current[i]! + update[i]!;
    // A diverged optimizer must fail the round, not publish a model full of NaN.
    if (!Number.isFinite(params[i]!)) throw new OptimizerStateError(`server optimizer produced a non-finite weight at index ${i} (step ${t})`);
  }
  return { params, state: { step: t, m, v } };
}

function copyMoment(moment: Float64Array | null, n: number, name: string): Float64Array {
  if (moment === null) return new Float64Array(n);
  if (moment.length !== n) throw new OptimizerStateError(`optimizer state ${name} has ${moment.length} values, the model has ${n}`);
  return Float64Array.from(moment);
}
