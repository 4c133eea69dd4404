// The agent's configuration file (written by the coordinator into the sandbox) and its validation.

export interface TrainerCommand {
  /** Program to run, e.g. `python3`. */
  executor: string;
  /** Script passed as the first argument, then `train|test --training-id … --round … --model-id …`. */
  script: string;
  /** Kill the trainer after this many seconds. */
  timeoutSeconds: number;
}

/** A user trainer directory copied into the sandbox: its `train` program follows the file protocol (README, "Trainer protocol"). */
export interface FileTrainerConfig {
  /** Holds the executable `train`. */
  dir: string;
  /** Scratch folder for the model files of a round. */
  workDir: string;
  /** Kill the trainer after this many seconds (below the round deadline, so the failure is reported in time). */
  timeoutSeconds: number;
}

export interface AgentHyperparameters {
  epochs: number;
  learningRate: number;
  batchSize: number;
  /** FedProx proximal coefficient (0 = FedAvg). */
  mu: number;
  seed: number;
}

/** The broker channel (`fl.transport: rabbitmq`): the agent consumes its queue and publishes to the training's upload exchange. */
export interface AgentBrokerConfig {
  /** amqp:// or amqps:// URL with this agent's own credentials (the sandbox network's gateway, never 127.0.0.1). */
  url: string;
  /** The queue this agent alone may read: its notifications. */
  queue: string;
  /** The exchange this agent may publish its updates, metrics and statistics to. */
  exchange: string;
  /** Stamped on every message (the broker rejects a user_id other than the login): the coordinator checks it. */
  userId?: string;
}

export interface AgentConfig {
  trainingUuid: string;
  /** The client's name in uploads (`owner`). */
  owner: string;
  /** Bearer token for the coordinator API; the coordinator presents it to the agent too. */
  token: string;
  coordinatorUrl: string;
  listenHost: string;
  listenPort: number;
  /** CSV shard (header-less, label last). */
  dataPath: string;
  /** The client's own held-out rows (per-client data without a shared test set): test rounds evaluate on them. */
  testDataPath?: string;
  hyperparameters: AgentHyperparameters;
  /** External trainer speaking the coordinator API itself; absent = the built-in trainer. */
  trainer?: TrainerCommand;
  /** User trainer directory (file protocol); takes precedence over `trainer`. */
  fileTrainer?: FileTrainerConfig;
  /** Present: notifications and uploads go through the broker, and the agent listens on no port. */
  broker?: AgentBrokerConfig;
}

/** Which trainer an agent runs: a user trainer directory (`file`), an external command, or the built-in one. */
export type AgentTrainerKind = 'file' | 'external' | 'builtin';

export function agentTrainerKind(config: Pick<AgentConfig, 'fileTrainer' | 'trainer'>): AgentTrainerKind {
  return config.fileTrainer ? 'file' : config.trainer ? 'external' : 'builtin';
}

export function validateAgentConfig(value: unknown): AgentConfig {
  const c = value as Partial<AgentConfig> | null;
  const fail = (what: string): never => {
    throw new Error(`agent config: ${what}`);
  };
  if (typeof c !== 'object' || c === null) return fail('not an object');
  for (const k of ['trainingUuid', 'owner', 'token', 'coordinatorUrl', 'listenHost', 'dataPath'] as const) {
    if (typeof c[k] !== 'string' || c[k] === '') fail(`${k} must be a non-empty string`);
  }
  if (c.testDataPath !== undefined && (typeof c.testDataPath !== 'string' || c.testDataPath === '')) fail('testDataPath must be a non-empty string');
  if (!Number.isInteger(c.listenPort) || c.listenPort! < 0 || c.listenPort! > 65535) fail('listenPort must be a port number');
  const h = c.hyperparameters;
  if (typeof h !== 'object' || h === null) return fail('hyperparameters missing');
  if (!(Number.isInteger(h.epochs) && h.epochs >= 0)) fail('hyperparameters.epochs must be an integer ≥ 0');
  if (!(h.learningRate > 0)) fail('hyperparameters.learningRate must be > 0');
  if (!(Number.isInteger(h.batchSize) && h.batchSize >= 1)) fail('hyperparameters.batchSize must be an integer ≥ 1');
  if (!(h.mu >= 0)) fail('hyperparameters.mu must be ≥ 0');
  if (!Number.isInteger(h.seed)) fail('hyperparameters.seed must be an integer');
  if (c.trainer !== undefined) {
    const t = c.trainer;
    if (typeof t.executor !== 'string' || typeof t.script !== 'string' || !(t.timeoutSeconds > 0)) fail('trainer needs executor, script and timeoutSeconds > 0');
  }
  if (c.fileTrainer !== undefined) {
    const t = c.fileTrainer;
    if (typeof t.dir !== 'string' || typeof t.workDir !== 'string' || !(t.timeoutSeconds > 0)) fail('fileTrainer needs dir, workDir and timeoutSeconds > 0');
  }
  if (c.broker !== undefined) {
    const b = c.broker;
    if (typeof b !== 'object' || b === null) return fail('broker must be an object');
    for (const k of ['url', 'queue', 'exchange'] as const) if (typeof b[k] !== 'string' || b[k] === '') fail(`broker.${k} must be a non-empty string`);
    if (!/^amqps?:\/\//.test(b.url)) fail('broker.url must be an amqp:// or amqps:// URL');
    if (b.userId !== undefined && (typeof b.userId !== 'string' || b.userId === '')) fail('broker.userId must be a non-empty string');
    if (c.trainer !== undefined) fail('an external trainer cannot be used with the broker channel');
    if (c.fileTrainer !== undefined) fail('a user trainer cannot be used with the broker channel');
  }
  return c as AgentConfig;
}
