// A training request (from the CLI / library) with defaults applied and every field checked.
import type { TrainerCommand } from '../agent/agent-config.js';
import type { Dataset } from '../data/dataset.js';
import { parseShardSplit, type ShardSplit } from '../data/split-dataset.js';
import type { ModelKind } from '../model/classifier.js';
import { STRATEGY_DEFAULTS, STRATEGY_NAMES, type ServerOptimizerOption, type ServerOptimizerOptions, type StrategyConfig, type StrategyName } from '../strategy/strategy.js';

export interface TrainingRequestInput {
  /** Default with `clientData`: one client per file. */
  clients?: number;
  rounds: number;
  model?: ModelKind;
  /** Hidden units of the MLP. */
  hidden?: number;
  /** Path to a CSV (optionally .gz) file, or the data itself; the coordinator splits it. Not with `clientData`. */
  dataset?: string | Dataset;
  /** One CSV per client (its own data, `clients` of them) instead of `dataset`/`split`. */
  clientData?: string[];
  /** With `clientData`: the held-out set the coordinator evaluates; without it each client holds out `testFraction` of its file. */
  testData?: string;
  /** `iid` or `dirichlet:<alpha>`. */
  split?: string;
  localEpochs?: number;
  learningRate?: number;
  batchSize?: number;
  /** FedProx proximal coefficient (0 = FedAvg). */
  mu?: number;
  /** Server strategy (default: fedprox when mu > 0, else fedavg). */
  strategy?: StrategyName;
  serverLearningRate?: number;
  beta1?: number;
  beta2?: number;
  tau?: number;
  serverMomentum?: number;
  /** Ends the training once the held-out accuracy reaches this (0..1]. */
  targetAccuracy?: number;
  /** Ends the training after this many rounds without a new best accuracy. */
  patience?: number;
  minClients?: number;
  /** Start the rounds as soon as this many clients are ready (default: wait for every client or the ready timeout). */
  startWhen?: number;
  /** Fraction C of the clients a round aggregates (0, 1], sampled per round (default 1: all). */
  fraction?: number;
  /** Ask ceil(overselect · K) clients and aggregate the first K updates; later ones are discarded and counted (default 1). */
  overselect?: number;
  /** Updates needed to aggregate a round (default: minClients). */
  minFitClients?: number;
  roundTimeoutSeconds?: number;
  readyTimeoutSeconds?: number;
  /**
   * The training's deadline, in seconds from its start (or resume): the lifetime of its sandboxes, destroyed then (reason `expired`).
   * Default: 180 s to start the sandboxes, the ready timeout, and two round timeouts (fit and test) for each round and round 0.
   */
  deadlineSeconds?: number;
  seed?: number;
  testFraction?: number;
  keepSandboxes?: boolean;
  /** External trainer for every client, or per client index (0-based). */
  trainer?: TrainerCommand;
  clientTrainers?: Record<number, TrainerCommand>;
  /** A user trainer directory on the daemon's host (`--trainer DIR`), copied into every client sandbox. */
  trainerDir?: string;
}

type StrategyInput = 'strategy' | ServerOptimizerOption | 'targetAccuracy' | 'patience' | 'startWhen';
type DataInput = 'dataset' | 'clientData' | 'testData';

export interface TrainingRequest extends Required<Omit<TrainingRequestInput, 'trainer' | 'clientTrainers' | 'trainerDir' | 'split' | StrategyInput | DataInput>> {
  clients: number;
  /** Empty with `clientData`. */
  dataset: string | Dataset;
  clientData: string[];
  testData: string | null;
  strategy: StrategyConfig;
  targetAccuracy: number | null;
  patience: number | null;
  startWhen: number | null;
  split: ShardSplit;
  splitText: string;
  trainer?: TrainerCommand;
  clientTrainers: Record<number, TrainerCommand>;
  trainerDir?: string;
}

export function normalizeTrainingRequest(input: TrainingRequestInput): TrainingRequest {
  const bad = (m: string): never => {
    throw new RangeError(m);
  };
  const int = (v: unknown, name: string, min: number, max: number) => {
    if (!(Number.isInteger(v) && (v as number) >= min && (v as number) <= max)) bad(`${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  };
  const pos = (v: unknown, name: string) => {
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) bad(`${name} must be a number > 0, got ${String(v)}`);
  };
  const { strategy, targetAccuracy, patience } = normalizeStrategy(input, bad);
  const clientData = input.clientData ?? [];
  const clients = input.clients ?? clientData.length;
  const r: TrainingRequest = {
    clients,
    rounds: input.rounds,
    model: input.model ?? 'logreg',
    hidden: input.hidden ?? 64,
    dataset: input.dataset ?? '',
    clientData,
    testData: input.testData ?? null,
    split: { kind: 'iid' },
    splitText: input.split ?? 'iid',
    localEpochs: input.localEpochs ?? 5,
    learningRate: input.learningRate ?? 0.1,
    batchSize: input.batchSize ?? 32,
    mu: input.mu ?? 0,
    strategy,
    targetAccuracy,
    patience,
    minClients: input.minClients ?? clients,
    startWhen: input.startWhen ?? null,
    minFitClients: input.minFitClients ?? input.minClients ?? clients,
    fraction: input.fraction ?? 1,
    overselect: input.overselect ?? 1,
    roundTimeoutSeconds: input.roundTimeoutSeconds ?? 60,
    readyTimeoutSeconds: input.readyTimeoutSeconds ?? 60,
    deadlineSeconds: input.deadlineSeconds ?? defaultDeadlineSeconds(input),
    seed: input.seed ?? 0,
    testFraction: input.testFraction ?? 0.2,
    keepSandboxes: input.keepSandboxes ?? false,
    clientTrainers: input.clientTrainers ?? {},
    ...(input.trainer ? { trainer: input.trainer } : {}),
    ...(input.trainerDir !== undefined ? { trainerDir: input.trainerDir } : {}),
  };
  int(r.clients, 'clients', 1, 64);
  int(r.rounds, 'rounds', 1, 1000);
  if (r.model !== 'logreg' && r.model !== 'mlp') bad(`model must be logreg or mlp, got ${String(r.model)}`);
  int(r.hidden, 'hidden', 1, 4096);
  r.split = parseShardSplit(r.splitText);
  int(r.localEpochs, 'local epochs', 0, 1000);
  pos(r.learningRate, 'learning rate');
  int(r.batchSize, 'batch size', 1, 1 << 20);
  if (!(typeof r.mu === 'number' && r.mu >= 0)) bad(`mu must be ≥ 0, got ${String(r.mu)}`);
  int(r.minClients, 'min clients', 1, r.clients);
  int(r.minFitClients, 'min fit clients', 1, r.clients);
  if (!(typeof r.fraction === 'number' && r.fraction > 0 && r.fraction <= 1)) bad(`fraction must be in (0, 1], got ${String(r.fraction)}`);
  if (!(typeof r.overselect === 'number' && r.overselect >= 1 && r.overselect <= 10)) bad(`overselect must be in [1, 10], got ${String(r.overselect)}`);
  if (r.startWhen !== null) int(r.startWhen, 'start when', r.minClients, r.clients);
  pos(r.roundTimeoutSeconds, 'round timeout');
  pos(r.readyTimeoutSeconds, 'ready timeout');
  pos(r.deadlineSeconds, 'deadline');
  int(r.seed, 'seed', -(2 ** 31), 2 ** 31 - 1);
  if (!(r.testFraction > 0 && r.testFraction < 1)) bad(`test fraction must be in (0, 1), got ${r.testFraction}`);
  if (r.trainerDir !== undefined && (typeof r.trainerDir !== 'string' || !r.trainerDir.startsWith('/'))) bad('trainer must be an absolute directory path');
  checkData(input, r, bad);
  return r;
}

/** Sandboxes may take this long to start on a loaded engine (measured: 1 min 45 s for two at load average 17). */
const PROVISIONING_ALLOWANCE_SECONDS = 180;

/** Long enough for the sandboxes to start and every phase of every round to use its whole timeout: only a training that overruns them meets it. */
function defaultDeadlineSeconds(input: TrainingRequestInput): number {
  return PROVISIONING_ALLOWANCE_SECONDS + (input.readyTimeoutSeconds ?? 60) + 2 * (input.rounds + 1) * (input.roundTimeoutSeconds ?? 60);
}

/** The request as stored and shown (no data, no secrets). */
export function describeTrainingRequest(r: TrainingRequest): Record<string, unknown> {
  return {
    clients: r.clients,
    rounds: r.rounds,
    model: r.model,
    ...(r.model === 'mlp' ? { hidden: r.hidden } : {}),
    ...(r.clientData.length > 0
      ? { client_data: r.clientData, test_data: r.testData ?? `${r.testFraction} of each client's file` }
      : { dataset: typeof r.dataset === 'string' ? r.dataset : '(in memory)', split: r.splitText }),
    local_epochs: r.localEpochs,
    learning_rate: r.learningRate,
    batch_size: r.batchSize,
    mu: r.mu,
    strategy: r.strategy.name,
    ...Object.fromEntries(Object.entries(r.strategy.options).map(([k, v]) => [OPTION_KEYS[k as ServerOptimizerOption], v])),
    ...(r.targetAccuracy !== null ? { target_accuracy: r.targetAccuracy } : {}),
    ...(r.patience !== null ? { patience: r.patience } : {}),
    min_clients: r.minClients,
    ...(r.startWhen !== null ? { start_when: r.startWhen } : {}),
    min_fit_clients: r.minFitClients,
    ...(r.fraction !== 1 ? { fraction: r.fraction } : {}),
    ...(r.overselect !== 1 ? { overselect: r.overselect } : {}),
    round_timeout: r.roundTimeoutSeconds,
    deadline: r.deadlineSeconds,
    seed: r.seed,
    keep_sandboxes: r.keepSandboxes,
    ...(r.trainerDir !== undefined ? { trainer: r.trainerDir } : {}),
  };
}

/** Either one data set the coordinator splits, or one file per client (and maybe a test file), never both. */
function checkData(input: TrainingRequestInput, r: TrainingRequest, bad: (m: string) => never): void {
  if (r.clientData.length === 0) {
    if (input.clientData !== undefined) bad('client data needs at least one file');
    if (r.testData !== null) bad('test data goes with client data (with a dataset the coordinator holds out the test fraction)');
    if (r.dataset === '' || (typeof r.dataset !== 'string' && (typeof r.dataset !== 'object' || r.dataset === null))) bad('dataset must be a path');
    return;
  }
  if (input.dataset !== undefined) bad('give either a dataset or client data, not both');
  if (input.split !== undefined && input.split !== 'iid') bad('split applies to a dataset; with client data each client keeps its own file');
  if (!r.clientData.every((p) => typeof p === 'string' && p !== '')) bad('client data must be file paths');
  if (r.testData !== null && (typeof r.testData !== 'string' || r.testData === '')) bad('test data must be a file path');
  if (r.clients !== r.clientData.length) bad(`clients is ${r.clients} but ${r.clientData.length} client data file(s) were given`);
}

/** Request field → CLI flag / stored key. */
const OPTION_FLAGS: Record<ServerOptimizerOption, string> = {
  serverLearningRate: 'server-lr', beta1: 'beta1', beta2: 'beta2', tau: 'tau', serverMomentum: 'server-momentum',
};
const OPTION_KEYS: Record<ServerOptimizerOption, string> = {
  serverLearningRate: 'server_lr', beta1: 'beta1', beta2: 'beta2', tau: 'tau', serverMomentum: 'server_momentum',
};

/** The strategy with its defaults, refusing options the chosen strategy does not take, and the stop conditions. */
function normalizeStrategy(input: TrainingRequestInput, bad: (m: string) => never): { strategy: StrategyConfig; targetAccuracy: number | null; patience: number | null } {
  const mu = input.mu ?? 0;
  const name = input.strategy ?? (mu > 0 ? 'fedprox' : 'fedavg');
  if (!(STRATEGY_NAMES as readonly string[]).includes(name)) bad(`strategy must be one of ${STRATEGY_NAMES.join(', ')}, got ${String(name)}`);
  if (name === 'fedprox' && !(mu > 0)) bad('strategy fedprox needs mu > 0 (its proximal coefficient)');
  if (name === 'fedavg' && mu > 0) bad('fedavg with mu > 0 is fedprox: choose strategy fedprox');
  const defaults = STRATEGY_DEFAULTS[name];
  const options: Partial<ServerOptimizerOptions> = {};
  for (const key of Object.keys(OPTION_FLAGS) as ServerOptimizerOption[]) {
    const given = input[key];
    if (given !== undefined && !(key in defaults)) {
      const takers = STRATEGY_NAMES.filter((s) => key in STRATEGY_DEFAULTS[s]);
      bad(`${OPTION_FLAGS[key]} applies to ${takers.join(', ')}, not to ${name}`);
    }
    if (key in defaults) options[key] = given ?? defaults[key]!;
  }
  const finite = (v: number | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
  const check = (key: ServerOptimizerOption, ok: (v: number) => boolean, range: string) => {
    const v = options[key];
    if (v !== undefined && !(finite(v) && ok(v))) bad(`${OPTION_FLAGS[key]} must be ${range}, got ${String(v)}`);
  };
  check('serverLearningRate', (v) => v > 0, 'a number > 0');
  check('beta1', (v) => v >= 0 && v < 1, 'in [0, 1)');
  check('beta2', (v) => v >= 0 && v < 1, 'in [0, 1)');
  check('tau', (v) => v > 0, 'a number > 0');
  check('serverMomentum', (v) => v >= 0 && v < 1, 'in [0, 1)');
  const targetAccuracy = input.targetAccuracy ?? null;
  if (targetAccuracy !== null && !(finite(targetAccuracy) && targetAccuracy > 0 && targetAccuracy <= 1)) bad(`target accuracy must be in (0, 1], got ${String(targetAccuracy)}`);
  const patience = input.patience ?? null;
  if (patience !== null && !(Number.isInteger(patience) && patience >= 1 && patience <= 1000)) bad(`patience must be an integer in 1..1000, got ${String(patience)}`);
  return { strategy: { name, options }, targetAccuracy, patience };
}
