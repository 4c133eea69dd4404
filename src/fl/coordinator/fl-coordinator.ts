// The FL coordinator: drives each training run through its states (clients, statistics, rounds, stop conditions) and serves the agent API.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { FlStore, TrainingStatus } from '../../database/fl-store.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { combineFeatureStatistics, standardize, type FeatureStatistics } from '../data/standardizer.js';
import { initParameters, parameterCount } from '../model/classifier.js';
import { Prng } from '../model/prng.js';
import { initialOptimizerState, type OptimizerState } from '../strategy/fed-opt.js';
import { aggregateFit } from '../strategy/strategy.js';
import { AgentApi, newClientToken } from './agent-api.js';
import { HttpAgentTransport, type AgentTransport } from './agent-transport.js';
import type { ClientHost } from './client-host.js';
import { buildCoordinatorApi } from './coordinator-api.js';
import { ModelStore, type StoredClientUpdate } from './model-store.js';
import { RoundCollector } from './round-collector.js';
import { RoundPhases } from './round-phases.js';
import { TrainingClients } from './training-clients.js';
import { checkStopConditions } from './stop-conditions.js';
import { retireJoinedClients } from './join-data.js';
import { loadTrainerBundle } from './trainer-bundle.js';
import { describeTrainingRequest, normalizeTrainingRequest, type TrainingRequestInput } from './training-request.js';
import { abortableSleep } from './abortable-sleep.js';
import { loadTrainingData } from './training-data.js';
import { cancelInterruptedTraining, CoordinatorStopping, recoverTrainings, reviveTraining, TrainingControlError } from './training-recovery.js';
import { loadCheckpoint, type TrainingCheckpoint } from './training-checkpoint.js';
import { storedTrainingSummary, TrainingRun, type ClientState, type TrainingSummary } from './training-run.js';

export type { RoundSummary, TrainingSummary } from './training-run.js';
export type { StoredClientUpdate } from './model-store.js';
export { TrainingControlError } from './training-recovery.js';

export type FlEventName =
  | 'fl_training_started'
  | 'fl_round_completed'
  | 'fl_client_dropped'
  | 'fl_client_joined'
  | 'fl_start_condition_met'
  | 'fl_target_reached'
  | 'fl_patience_exhausted'
  | 'fl_training_finished';

export interface FlCoordinatorOptions {
  host: ClientHost;
  /** Folder for global model files (`fl.data_dir`). */
  dataDir: string;
  /** Agent API port (`fl.listen_port`); 0 = ephemeral (tests). */
  listenPort: number;
  store?: FlStore;
  /** The server's event system (`AnweddolServer.emitEvent`). */
  emit?: (name: FlEventName, payload: Record<string, unknown>) => void;
  logger?: Logger;
  /** Notification request timeout. */
  notifyTimeoutMs?: number;
  maxUploadBytes?: number;
  /** Resume interrupted trainings when the API starts (`fl.resume_on_start`, default true); else they wait for `resumeTraining`. */
  resumeOnStart?: boolean;
  /** How agents get notifications and send uploads (`fl.transport`); default: HTTP both ways. Handed the agent API to check uploads. */
  transport?: (agents: AgentApi) => AgentTransport;
}


export class FlCoordinator {
  private readonly runs = new Map<string, TrainingRun>();
  private readonly models: ModelStore;
  private readonly agents: AgentApi;
  private readonly clients: TrainingClients;
  private readonly phases: RoundPhases;
  private readonly transport: AgentTransport;
  private apis: FastifyInstance[] = [];
  private port = 0;
  private readonly log: Logger;

  constructor(private readonly options: FlCoordinatorOptions) {
    this.log = options.logger ?? silentLogger;
    this.models = new ModelStore(options.dataDir, options.store);
    this.agents = new AgentApi(this.models, options.store, (run, c, reason) => this.clients.dropClient(run, c, reason));
    this.transport = options.transport?.(this.agents) ?? new HttpAgentTransport(options.notifyTimeoutMs);
    this.clients = new TrainingClients({
      host: options.host,
      agents: this.agents,
      transport: this.transport,
      ...(options.store ? { store: options.store } : {}),
      emit: (name, payload) => this.emit(name, payload),
      port: () => this.port,
      log: this.log,
    });
    this.phases = new RoundPhases(this.clients);
  }

  /** Starts the agent API on every address the host needs (same port on each). */
  async start(): Promise<void> {
    mkdirSync(this.options.dataDir, { recursive: true, mode: 0o750 });
    let port = this.options.listenPort;
    try {
      for (const host of this.options.host.listenAddresses()) {
        const app = await buildCoordinatorApi(this.agents, { maxUploadBytes: this.options.maxUploadBytes ?? 64 * 1024 * 1024 });
        this.apis.push(app);
        await app.listen({ host, port });
        port = (app.server.address() as { port: number }).port;
      }
      await this.transport.start();
    } catch (e) {
      await this.closeApis();
      await this.transport.stop();
      throw e;
    }
    this.port = port;
    this.log.info(`FL coordinator API listening on ${this.options.host.listenAddresses().join(', ')} port ${port}`);
    this.recoverTrainings();
  }

  private recoverTrainings(): void {
    if (this.options.store) recoverTrainings(this.options.store, this.options.resumeOnStart !== false, (uuid) => this.resumeTraining(uuid), this.log);
  }

  get listenPort(): number {
    return this.port;
  }

  /** Cancels running trainings (their clients are destroyed) and closes the API. */
  async stop(): Promise<void> {
    const pending = [...this.runs.values()].map((r) => {
      r.abort.abort(new CoordinatorStopping());
      r.phase?.collector.cancel();
      return r.done.catch(() => undefined);
    });
    await Promise.all(pending);
    await this.closeApis();
    await this.transport.stop();
  }

  private async closeApis(): Promise<void> {
    const apis = this.apis;
    this.apis = [];
    await Promise.all(apis.map((a) => a.close()));
  }

  /** Validates the request, starts the training in the background and returns its uuid. */
  startTraining(input: TrainingRequestInput): string {
    if (this.apis.length === 0) throw new Error('FL coordinator is not started');
    const request = normalizeTrainingRequest(input);
    // A trainer command or directory runs as its own process, with the HTTP client only.
    if (this.transport.kind === 'rabbitmq' && (request.trainer || Object.keys(request.clientTrainers).length > 0 || request.trainerDir !== undefined)) {
      throw new Error('trainer commands and --trainer need fl.transport http (over the broker, agents run the built-in trainer)');
    }
    // Read now: a bad trainer directory is refused before anything is stored or launched.
    const trainerBundle = request.trainerDir === undefined ? undefined : loadTrainerBundle(request.trainerDir);
    const run = new TrainingRun(randomUUID(), request, 0, trainerBundle);
    // Stored first: a failed write leaves no half-registered run for stop() to trip over. Data in memory cannot be replayed.
    const replayable = typeof input.dataset === 'object' ? null : { ...input };
    this.options.store?.createTraining(run.uuid, describeTrainingRequest(request), Date.now(), replayable as Record<string, unknown> | null);
    this.runs.set(run.uuid, run);
    run.done = this.execute(run);
    return run.uuid;
  }

  /** Starts an interrupted training again, in the background, from its last completed round; returns how many times it resumed. */
  resumeTraining(uuid: string): number {
    const store = this.options.store;
    if (this.apis.length === 0 || !store) throw new Error('FL coordinator is not started');
    if (this.runs.has(uuid)) throw new TrainingControlError(`training ${uuid} is running`);
    const run = reviveTraining(store, uuid);
    this.runs.set(uuid, run);
    this.log.info(`FL training ${uuid} resumes (${run.resumed} time(s))`);
    run.done = this.execute(run);
    return run.resumed;
  }

  /** Cancels a running training (waits until its clients are gone) or an interrupted one; refuses an ended one. */
  async cancel(uuid: string): Promise<TrainingSummary> {
    const run = this.runs.get(uuid);
    if (run) {
      this.cancelTraining(uuid);
      return run.done;
    }
    if (!this.options.store) throw new TrainingControlError(`no training ${uuid}`);
    cancelInterruptedTraining(this.options.store, uuid);
    return this.summary(uuid)!;
  }

  /** Resolves when the training ends (finished, failed or cancelled). */
  async waitForTraining(uuid: string): Promise<TrainingSummary> {
    const run = this.runs.get(uuid);
    if (run) return run.done;
    const s = this.summary(uuid);
    if (!s) throw new Error(`no training ${uuid}`);
    return s;
  }

  cancelTraining(uuid: string): boolean {
    const run = this.runs.get(uuid);
    if (!run) return false;
    run.abort.abort(new Error('cancelled'));
    run.phase?.collector.cancel();
    return true;
  }

  /** Live state for a running training, else what the store remembers. */
  summary(uuid: string): TrainingSummary | undefined {
    const run = this.runs.get(uuid);
    if (run) return run.summary();
    return this.options.store && storedTrainingSummary(this.options.store, uuid);
  }

  /** The global model file of a round (default: the last one). */
  exportModel(uuid: string, round?: number): { round: number; bytes: Buffer } {
    return this.models.find(uuid, round);
  }

  /** Each client's latest accepted update (a model file of its own weights), by client id. */
  clientUpdates(uuid: string): StoredClientUpdate[] {
    return this.models.clientUpdates(uuid);
  }

  // ---- the training ----

  private emit(name: FlEventName, payload: Record<string, unknown>): void {
    try {
      this.options.emit?.(name, payload);
    } catch (e) {
      this.log.error(`FL event handler for ${name} failed: ${(e as Error).message}`);
    }
  }

  private setStatus(run: TrainingRun, status: TrainingStatus, message = ''): void {
    run.transition(status, message);
    const final = run.rounds.at(-1)?.accuracy ?? null;
    this.options.store?.setTrainingStatus(run.uuid, status, message, final);
  }

  private async execute(run: TrainingRun): Promise<TrainingSummary> {
    try {
      await this.prepare(run);
      const channels = await this.transport.openTraining(run);
      // The data, shards and statistics are rebuilt from the same seeds, so the stored models fit them; checked before any sandbox.
      const checkpoint = run.resumed > 0 && this.options.store ? loadCheckpoint(this.options.store, this.models, run.uuid, run.spec) : undefined;
      await this.clients.provision(run, channels);
      await this.collectStatistics(run);
      this.setStatus(run, 'running');
      this.emit('fl_training_started', {
        training_uuid: run.uuid, clients: run.activeClients().map((c) => c.id), rounds: run.request.rounds, model: run.request.model, strategy: run.request.strategy.name,
        ...(checkpoint ? { resumed: run.resumed, from_round: checkpoint.round + 1 } : {}),
      });
      await this.runRounds(run, checkpoint);
      for (const c of run.activeClients()) {
        await this.clients.notify(run, c, { type: 'TRAINING_FINISHED', trainingUuid: run.uuid });
        c.status = 'finished';
        this.clients.save(run, c);
      }
    } catch (e) {
      const cancelled = run.abort.signal.aborted;
      // Its sandboxes were destroyed at the deadline: the round that lost them says why only in part.
      const overran = !cancelled && Date.now() >= run.deadline;
      const message = cancelled
        ? String((run.abort.signal.reason as Error | undefined)?.message ?? 'cancelled')
        : overran ? `ran past its deadline of ${run.request.deadlineSeconds} s: ${(e as Error).message}` : (e as Error).message;
      const end = run.abort.signal.reason instanceof CoordinatorStopping ? 'interrupted' : cancelled ? 'cancelled' : 'failed';
      if (!run.ended) this.setStatus(run, end, message);
      this.log.error(`FL training ${run.uuid} ${run.status}: ${message}`);
    } finally {
      run.phase?.collector.cancel();
      run.phase = undefined;
      this.agents.revoke(run);
      if (!run.request.keepSandboxes) {
        await Promise.all([...run.clients.values()].map((c) => c.launched?.destroy().catch((e: Error) => this.log.error(`FL: destroying client ${c.id} failed: ${e.message}`))));
      }
      await this.transport.closeTraining(run);
    }
    const summary = run.summary();
    this.emit('fl_training_finished', { training_uuid: run.uuid, status: run.status, message: run.message, final_accuracy: summary.final_accuracy });
    this.runs.delete(run.uuid);
    this.models.forget(run.uuid);
    return summary;
  }

  /**
   * Round 0 is the initial model; each later round is fit → aggregate → publish → evaluate, until the last round or a stop condition.
   * A resumed training starts after its checkpoint, with the same seeds, so it computes what an uninterrupted one would.
   */
  private async runRounds(run: TrainingRun, checkpoint: TrainingCheckpoint | undefined): Promise<void> {
    const r = run.request;
    let params: Float32Array;
    let modelUuid: string;
    let optimizer: OptimizerState;
    if (checkpoint) {
      ({ params, modelUuid, optimizer } = checkpoint);
      run.initialAccuracy = checkpoint.initialAccuracy;
      run.rounds.push(...checkpoint.rounds);
    } else {
      params = initParameters(run.spec, new Prng(r.seed ^ 0x5eed));
      modelUuid = this.publishModel(run, 0, params, 0);
      const ev0 = await this.phases.evaluate(run, 0, params, modelUuid);
      run.initialAccuracy = ev0.accuracy;
      this.models.finishRound(run.uuid, 0, { accuracy: ev0.accuracy, loss: ev0.loss }, null);
      optimizer = initialOptimizerState();
    }
    for (let round = (checkpoint?.round ?? 0) + 1; round <= r.rounds; round++) {
      const started = performance.now();
      const { updates, failures, late } = await this.phases.fit(run, round, modelUuid);
      const outcome = aggregateFit(r.strategy, round, params, updates, failures, optimizer, r.minFitClients);
      if (!outcome.ok) throw new Error(outcome.reason);
      params = outcome.params;
      optimizer = outcome.state;
      modelUuid = this.publishModel(run, round, params, updates.length);
      const ev = await this.phases.evaluate(run, round, params, modelUuid, late);
      const clientMetrics = ev.clientMetrics;
      this.models.finishRound(run.uuid, round, { accuracy: ev.accuracy, loss: ev.loss, dropped: failures.map((f) => ({ clientId: f.clientId, reason: f.reason })), late }, optimizer);
      const dropped = failures.map((f) => ({ client_id: f.clientId, reason: f.reason }));
      const summary = { round, accuracy: ev.accuracy, loss: ev.loss, clients: updates.length, duration_ms: performance.now() - started, ...(dropped.length > 0 ? { dropped } : {}), ...(late.length > 0 ? { late } : {}) };
      run.rounds.push(summary);
      this.log.info(`FL training ${run.uuid}: round ${round} accuracy ${(ev.accuracy * 100).toFixed(2)} % loss ${ev.loss.toFixed(4)} (${updates.length} clients)`);
      this.emit('fl_round_completed', { training_uuid: run.uuid, ...summary, client_metrics: clientMetrics });
      const stop = checkStopConditions(run.rounds.map((x) => x.accuracy), r);
      if (stop) {
        this.log.info(`FL training ${run.uuid}: ${stop.message} after round ${round}`);
        this.emit(stop.event, { training_uuid: run.uuid, ...stop.payload });
        this.setStatus(run, 'finished', stop.message);
        return;
      }
    }
    this.setStatus(run, 'finished', `${r.rounds} rounds completed`);
  }

  /** Loads the data: a held-out test set stays here (or each client keeps its own), each client gets its training rows. */
  private async prepare(run: TrainingRun): Promise<void> {
    const r = run.request;
    const data = await loadTrainingData(r);
    if (data.classes < 2) throw new Error('the data set needs at least two classes');
    run.spec = { kind: r.model, inputs: data.inputs, classes: data.classes, hidden: r.model === 'mlp' ? r.hidden : 0 };
    run.maxModelBytes = (parameterCount(run.spec) + 2 * run.spec.inputs) * 4 + 64 * 1024;
    run.test = data.test;
    run.pool = data.pool;
    data.clients.forEach(({ train, test }, i) => {
      const c: ClientState = { id: `client-${i + 1}`, ...newClientToken(), shard: train, ...(test ? { testShard: test } : {}), status: 'launching', dropReason: null };
      run.clients.set(c.id, c);
      this.agents.register(run, c);
      this.clients.save(run, c);
    });
    if (run.resumed > 0 && this.options.store) retireJoinedClients(this.options.store, run);
  }

  /**
   * `fl join`: adds a client to a running training. Resolves with its id once it is ready (statistics received);
   * it takes part from the first round selected after that, starting from that round's global model.
   */
  async joinTraining(uuid: string, dataPath?: string): Promise<string> {
    const run = this.runs.get(uuid);
    if (!run) throw new Error(`no running training ${uuid}`);
    if (run.status !== 'running') throw new Error(`training ${uuid} is ${run.status}: clients join once its rounds run`);
    // A newcomer would need a broker channel of its own, which only a training's start sets up.
    if (this.transport.kind === 'rabbitmq') throw new Error('fl join needs fl.transport http');
    return this.clients.join(run, dataPath);
  }

  /**
   * TRAINING_START to every launched agent (retried until its server answers), then wait for their feature statistics:
   * from all of them, or from `start_when` of them, until the ready timeout.
   */
  private async collectStatistics(run: TrainingRun): Promise<void> {
    this.setStatus(run, 'waiting_clients');
    const r = run.request;
    const deadline = Date.now() + r.readyTimeoutSeconds * 1000;
    const launched = [...run.clients.values()].filter((c) => c.launched && c.status === 'launching');
    const collector = new RoundCollector<FeatureStatistics>(launched.map((c) => c.id), r.readyTimeoutSeconds * 1000, r.startWhen ?? Infinity);
    run.phase = { kind: 'statistics', round: 0, modelUuid: '', collector: collector as RoundCollector<unknown>, failures: new Map() };
    await Promise.all(launched.map(async (c) => {
      while (Date.now() < deadline && !run.abort.signal.aborted && c.status === 'launching' && collector.isPending(c.id)) {
        if (await this.clients.notify(run, c, { type: 'TRAINING_START', trainingUuid: run.uuid }, false)) return;
        await abortableSleep(200, run.abort.signal).catch(() => undefined);
      }
    }));
    const result = await collector.done;
    run.abort.signal.throwIfAborted();
    run.phase = undefined;
    for (const [id, stats] of result.received) {
      const c = run.clients.get(id)!;
      c.stats = stats;
      c.status = 'ready';
      this.clients.save(run, c);
    }
    const startedEarly = r.startWhen !== null && result.received.size >= r.startWhen;
    // Without elastic clients a latecomer cannot join the rounds: it leaves now, with the reason.
    const lateReason = startedEarly ? `not ready when ${r.startWhen} clients were (start_when)` : 'not ready before the ready timeout';
    for (const id of result.missing) this.clients.dropClient(run, run.clients.get(id)!, lateReason);
    const ready = run.activeClients();
    if (r.startWhen !== null && !startedEarly) throw new Error(`only ${ready.length} of ${r.clients} clients became ready before the ready timeout, start_when is ${r.startWhen}`);
    if (ready.length < r.minClients) throw new Error(`only ${ready.length} of ${r.clients} clients became ready, min_clients is ${r.minClients}`);
    if (startedEarly) this.emit('fl_start_condition_met', { training_uuid: run.uuid, ready_clients: ready.length, start_when: r.startWhen });
    run.standardizer = combineFeatureStatistics(ready.map((c) => c.stats!));
    if (run.test) run.test = standardize(run.test, run.standardizer);
  }

  private publishModel(run: TrainingRun, round: number, params: Float32Array, clients: number): string {
    return this.models.publish(run.uuid, round, { spec: run.spec, params, standardizer: run.standardizer }, clients);
  }

}
