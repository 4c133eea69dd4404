// A training's clients: launching their agents (at the start and by `fl join`), reaching them, recording and dropping them.
import type { FlStore } from '../../database/fl-store.js';
import type { Logger } from '../../shared/logger.js';
import type { AgentBrokerConfig, TrainerCommand } from '../agent/agent-config.js';
import type { Notification } from '../agent/notification.js';
import { loadDataset } from '../data/load-dataset.js';
import { abortableSleep } from './abortable-sleep.js';
import { newClientToken, type AgentApi } from './agent-api.js';
import type { ClientHost } from './client-host.js';
import type { FlEventName } from './fl-coordinator.js';
import { checkJoinData, joinClientData } from './join-data.js';
import type { AgentTransport } from './agent-transport.js';
import type { PhaseClients } from './round-phases.js';
import { trainerTimeoutSeconds } from './trainer-bundle.js';
import type { ClientState, TrainingRun } from './training-run.js';

export interface TrainingClientsOptions {
  host: ClientHost;
  agents: AgentApi;
  /** How notifications reach the agents (HTTP, or the broker). */
  transport: AgentTransport;
  store?: FlStore;
  emit(name: FlEventName, payload: Record<string, unknown>): void;
  /** The agent API's port, known once the coordinator listens. */
  port(): number;
  log: Logger;
}

export class TrainingClients implements PhaseClients {
  readonly log: Logger;

  constructor(private readonly options: TrainingClientsOptions) {
    this.log = options.log;
  }

  /** Records the client's state in the store (status, drop reason, sandbox). */
  save(run: TrainingRun, c: ClientState): void {
    this.options.store?.saveClient({
      trainingUuid: run.uuid, clientId: c.id, sandboxUuid: c.launched?.sandboxUuid ?? null, shardSize: c.shard.count, status: c.status, dropReason: c.dropReason,
    });
  }

  /** Leaves a client out of the training for good, with the reason (`fl_client_dropped`); a finished one stays finished. */
  dropClient(run: TrainingRun, c: ClientState, reason: string): void {
    if (c.status === 'dropped' || c.status === 'finished') return;
    c.status = 'dropped';
    c.dropReason = reason;
    this.save(run, c);
    run.phase?.collector.drop(c.id);
    this.log.warn(`FL training ${run.uuid}: client ${c.id} dropped (${reason})`);
    this.options.emit('fl_client_dropped', { training_uuid: run.uuid, client_id: c.id, reason });
  }

  /** Launches every client of a starting training; one that cannot launch is dropped with the reason. */
  async provision(run: TrainingRun, channels: Map<string, AgentBrokerConfig>): Promise<void> {
    let index = 0;
    await Promise.all([...run.clients.values()].map(async (c) => {
      const i = index++;
      try {
        await this.launch(run, c, run.request.clientTrainers[i], channels.get(c.id));
      } catch (e) {
        if (run.abort.signal.aborted) return;
        this.dropClient(run, c, `launch failed: ${(e as Error).message}`);
      }
    }));
    run.abort.signal.throwIfAborted();
  }

  /** One client's sandbox (or in-process agent), with the training's hyperparameters and trainer. */
  private async launch(run: TrainingRun, c: ClientState, clientTrainer?: TrainerCommand, broker?: AgentBrokerConfig): Promise<void> {
    const r = run.request;
    const trainer = clientTrainer ?? r.trainer;
    const launched = await this.options.host.launch({
      trainingUuid: run.uuid,
      clientId: c.id,
      token: c.token,
      shard: c.shard,
      ...(c.testShard ? { testShard: c.testShard } : {}),
      coordinatorUrl: this.options.host.coordinatorUrl(this.options.port()),
      ...(broker ? { broker } : {}),
      hyperparameters: { epochs: r.localEpochs, learningRate: r.learningRate, batchSize: r.batchSize, mu: r.mu, seed: r.seed },
      ...(trainer ? { trainer } : {}),
      ...(run.trainerBundle ? { trainerBundle: { bundle: run.trainerBundle, timeoutSeconds: trainerTimeoutSeconds(r.roundTimeoutSeconds) } } : {}),
      expiresAt: run.deadline,
    }, run.abort.signal);
    c.launched = launched;
    launched.onEnded((reason) => this.dropClient(run, c, `sandbox ended (${reason})`));
    this.save(run, c);
  }

  /**
   * `fl join`: adds a client to a running training. Resolves with its id once it is ready (statistics received);
   * it takes part from the first round selected after that, starting from that round's global model.
   */
  async join(run: TrainingRun, dataPath?: string): Promise<string> {
    const uuid = run.uuid;
    const own = dataPath === undefined ? undefined : checkJoinData(await loadDataset(dataPath), run, dataPath);
    const { train: shard, test } = joinClientData(run, own, dataPath);
    const id = `client-${run.clients.size + run.retiredJoins + 1}`;
    const c: ClientState = { id, ...newClientToken(), shard, ...(test ? { testShard: test } : {}), status: 'launching', dropReason: null };
    const ready = new Promise<void>((resolve, reject) => (c.onJoined = (failure) => (failure === undefined ? resolve() : reject(new Error(failure)))));
    // It may reject while the agent is still being reached; the race below reads it.
    ready.catch(() => undefined);
    run.clients.set(c.id, c);
    this.options.agents.register(run, c);
    this.save(run, c);
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.launch(run, c);
      // The training may have ended while the sandbox started: its cleanup did not see this one.
      if (run.ended) throw new Error(`training ${uuid} ended while the client started`);
      const deadline = Date.now() + run.request.readyTimeoutSeconds * 1000;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), run.request.readyTimeoutSeconds * 1000)));
      while (!(await this.notify(run, c, { type: 'TRAINING_START', trainingUuid: run.uuid }, false))) {
        if (Date.now() > deadline || run.ended) throw new Error('its agent did not answer before the ready timeout');
        await abortableSleep(200, run.abort.signal);
      }
      if ((await Promise.race([ready, timeout])) === 'timeout') throw new Error('no statistics before the ready timeout');
      if (run.ended) throw new Error(`training ${uuid} ended while the client started`);
    } catch (e) {
      this.dropClient(run, c, `join failed: ${(e as Error).message}`);
      await c.launched?.destroy().catch((err: Error) => this.log.error(`FL: destroying client ${c.id} failed: ${err.message}`));
      throw e;
    } finally {
      clearTimeout(timer);
    }
    c.status = 'ready';
    this.save(run, c);
    this.log.info(`FL training ${run.uuid}: ${c.id} joined (${shard.count} samples)`);
    this.options.emit('fl_client_joined', { training_uuid: run.uuid, client_id: c.id, samples: shard.count });
    return c.id;
  }

  /** Sends a notification; a client that cannot be reached is dropped (unless `dropOnFailure` is false). */
  async notify(run: TrainingRun, c: ClientState, n: Notification, dropOnFailure = true): Promise<boolean> {
    if (!c.launched) return false;
    const outcome = await this.options.transport.notify(run, c, n, run.abort.signal);
    if (outcome.delivered) return true;
    if (dropOnFailure && !run.abort.signal.aborted) this.dropClient(run, c, outcome.reason);
    return false;
  }
}
