// Server strategies in Flower's shape: which clients a round asks (selection) and what the server makes of the answers (aggregation), both pure.
import { fedAvg } from '../model/fed-avg.js';
import { FED_OPT_RULES, fedOptStep, type OptimizerState } from './fed-opt.js';

export const STRATEGY_NAMES = ['fedavg', 'fedprox', 'fedavgm', 'fedadam', 'fedyogi', 'fedadagrad'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** Server-side hyperparameters (`--server-lr`, `--beta1`, `--beta2`, `--tau`, `--server-momentum`). */
export interface ServerOptimizerOptions {
  serverLearningRate: number;
  beta1: number;
  beta2: number;
  tau: number;
  serverMomentum: number;
}
export type ServerOptimizerOption = keyof ServerOptimizerOptions;

/**
 * Defaults per strategy, as in Flower (fedavgm.py, fedadam.py, fedyogi.py, fedadagrad.py) after Reddi et al.,
 * "Adaptive Federated Optimization"; the keys present are the options a strategy takes.
 */
export const STRATEGY_DEFAULTS: Record<StrategyName, Partial<ServerOptimizerOptions>> = {
  fedavg: {},
  fedprox: {},
  fedavgm: { serverLearningRate: 1, serverMomentum: 0 },
  fedadam: { serverLearningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-9 },
  fedyogi: { serverLearningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
  fedadagrad: { serverLearningRate: 0.1, tau: 1e-9 },
};

export interface StrategyConfig {
  name: StrategyName;
  /** Only the options this strategy takes, defaults applied. */
  options: Partial<ServerOptimizerOptions>;
}

/** One client's answer to a fit round. */
export interface ClientUpdate {
  clientId: string;
  weights: Float32Array;
  sampleSize: number;
}

/** A selected client that gave no usable update, handed to aggregation as data (Flower's `failures`). */
export interface FitFailure {
  clientId: string;
  reason: string;
}

export type AggregateOutcome =
  | { ok: true; params: Float32Array; state: OptimizerState }
  | { ok: false; reason: string; failures: readonly FitFailure[] };

/** The clients a fit round asks: every available one, in client-id order (sampling comes with elastic clients). */
export function configureFit(available: readonly string[]): string[] {
  return [...available].sort(byClientId);
}

/**
 * FedAvg of the updates, then the strategy's server step from `current`. Updates are taken in client-id order,
 * not arrival order, so the aggregate is bit-for-bit reproducible. `state` is not modified.
 */
export function aggregateFit(
  config: StrategyConfig,
  round: number,
  current: Float32Array,
  updates: readonly ClientUpdate[],
  failures: readonly FitFailure[],
  state: OptimizerState,
  minFitClients: number,
): AggregateOutcome {
  if (updates.length < minFitClients) {
    return { ok: false, reason: `round ${round}: ${updates.length} update(s) received, min_fit_clients is ${minFitClients}`, failures };
  }
  const ordered = [...updates].sort((a, b) => byClientId(a.clientId, b.clientId));
  const averaged = fedAvg(ordered);
  if (config.name === 'fedavg' || config.name === 'fedprox') return { ok: true, params: averaged, state };
  return { ok: true, ...fedOptStep(FED_OPT_RULES[config.name], config.options as ServerOptimizerOptions, current, averaged, state) };
}

function byClientId(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
