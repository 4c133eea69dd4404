// Server strategies in Flower's shape: which clients a round asks (selection) and what the server makes of the answers (aggregation), both pure.
import { fedAvg } from '../model/fed-avg.js';
import { Prng } from '../model/prng.js';
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

/** Client selection per fit round: FedAvg's fraction C (McMahan et al.) and over-selection for stragglers (Bonawitz et al.). */
export interface ClientSelection {
  /** Fraction C of the available clients whose updates a round aggregates, (0, 1]. */
  fraction: number;
  /** Ask ceil(overselect · K) clients and aggregate the first K updates, ≥ 1. */
  overselect: number;
  /** K is never below this (`--min-clients`). */
  minFitClients: number;
  seed: number;
}

export const EVERY_CLIENT: Omit<ClientSelection, 'minFitClients' | 'seed'> = { fraction: 1, overselect: 1 };

/** Which clients a round asks (client-id order) and how many of their updates it aggregates: the first `aggregate` to arrive. */
export interface FitConfiguration {
  asked: string[];
  aggregate: number;
}

/**
 * K = max(min_fit_clients, ⌈C · available⌉), at most the available clients; asks ⌈F · K⌉ of them, sampled with a PRNG
 * seeded by the training seed and the round, so a run is reproducible. Every available client when that covers them all.
 */
export function configureFit(available: readonly string[], selection: ClientSelection, round: number): FitConfiguration {
  const sorted = [...available].sort(byClientId);
  // The epsilon keeps 0.7 · 10 = 7.000000000000001 from asking 8.
  const ceil = (x: number) => Math.ceil(x - 1e-9);
  const aggregate = Math.min(sorted.length, Math.max(selection.minFitClients, ceil(selection.fraction * sorted.length)));
  const askCount = Math.min(sorted.length, ceil(selection.overselect * aggregate));
  if (askCount === sorted.length) return { asked: sorted, aggregate };
  const prng = new Prng((selection.seed ^ Math.imul(round, 0x9e3779b1)) | 0);
  // Partial Fisher–Yates: the first askCount places are a uniform sample.
  const pool = [...sorted];
  for (let i = 0; i < askCount; i++) {
    const j = i + prng.nextInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return { asked: pool.slice(0, askCount).sort(byClientId), aggregate };
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
