// The FL coordinator: runs trainings (provision clients, rounds of FedAvg, evaluation), serves the agent API.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { FlStore, TrainingStatus } from '../../database/fl-store.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { encodeNotification, type Notification } from '../agent/notification.js';
import { classCount, type Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/load-dataset.js';
import { splitShards, splitTrainTest } from '../data/split-dataset.js';
import { combineFeatureStatistics, standardize, validateFeatureStatistics, type FeatureStatistics, type Standardizer } from '../data/standardizer.js';
import { evaluate, initParameters, parameterCount, type ModelSpec } from '../model/classifier.js';
import { fedAvg, type WeightedUpdate } from '../model/fed-avg.js';
import { decodeModelFile, encodeModelFile } from '../model/model-file.js';
import { Prng } from '../model/prng.js';
import { SafetensorsError } from '../model/safetensors.js';
import type { ClientHost, LaunchedClient } from './client-host.js';
import { buildCoordinatorApi, type UploadedUpdate } from './coordinator-api.js';
import { conflict, forbidden, invalid, notFound } from './fl-api-error.js';
import { RoundCollector } from './round-collector.js';
import { describeTrainingRequest, normalizeTrainingRequest, type TrainingRequest, type TrainingRequestInput } from './training-request.js';

export type FlEventName = 'fl_training_started' | 'fl_round_completed' | 'fl_client_dropped' | 'fl_training_finished';

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
}

export interface RoundSummary {
  round: number;
  accuracy: number;
  loss: number;
  clients: number;
  duration_ms: number;
}

export interface TrainingSummary {
  training_uuid: string;
  status: TrainingStatus;
  message: string;
  final_accuracy: number | null;
  initial_accuracy: number | null;
  rounds: RoundSummary[];
  clients: Array<{ client_id: string; status: string; drop_reason: string | null }>;
}

type ClientStatus = 'launching' | 'ready' | 'dropped' | 'finished';

interface ClientState {
  id: string;
  /** Bearer secret shared with this client's agent (memory only, never logged or stored). */
  token: string;
  tokenHash: string;
  shard: Dataset;
  status: ClientStatus;
  dropReason: string | null;
  launched?: LaunchedClient;
  stats?: FeatureStatistics;
}

interface Phase {
  kind: 'statistics' | 'fit' | 'test';
  round: number;
  modelUuid: string;
  collector: RoundCollector<unknown>;
}

class TrainingRun {
  readonly clients = new Map<string, ClientState>();
  readonly models = new Map<string, { round: number; bytes: Buffer }>();
  readonly rounds: RoundSummary[] = [];
  readonly abort = new AbortController();
  phase: Phase | undefined;
  status: TrainingStatus = 'provisioning';
  message = '';
  initialAccuracy: number | null = null;
  spec!: ModelSpec;
  test!: Dataset;
  standardizer!: Standardizer;
  maxModelBytes = 0;
  done!: Promise<TrainingSummary>;
  constructor(
    readonly uuid: string,
    readonly request: TrainingRequest,
  ) {}
}

interface Caller {
  run: TrainingRun;
  client: ClientState;
}

export class FlCoordinator {
  private readonly runs = new Map<string, TrainingRun>();
  private readonly tokens = new Map<string, Caller>();
  private apis: FastifyInstance[] = [];
  private port = 0;
  private readonly log: Logger;

  constructor(private readonly options: FlCoordinatorOptions) {
    this.log = options.logger ?? silentLogger;
  }

  /** Starts the agent API on every address the host needs (same port on each). */
  async start(): Promise<void> {
    const store = this.options.store;
    if (store) for (const uuid of store.unfinishedTrainings()) store.setTrainingStatus(uuid, 'failed', 'daemon restarted during the training');
    mkdirSync(this.options.dataDir, { recursive: true, mode: 0o750 });
    let port = this.options.listenPort;
    try {
      for (const host of this.options.host.listenAddresses()) {
        const app = await buildCoordinatorApi<Caller>(this, { maxUploadBytes: this.options.maxUploadBytes ?? 64 * 1024 * 1024 });
        this.apis.push(app);
        await app.listen({ host, port });
        port = (app.server.address() as { port: number }).port;
      }
    } catch (e) {
      await this.closeApis();
      throw e;
    }
    this.port = port;
    this.log.info(`FL coordinator API listening on ${this.options.host.listenAddresses().join(', ')} port ${port}`);
  }

  get listenPort(): number {
    return this.port;
  }

  /** Cancels running trainings (their clients are destroyed) and closes the API. */
  async stop(): Promise<void> {
    const pending = [...this.runs.values()].map((r) => {
      r.abort.abort(new Error('coordinator stopping'));
      r.phase?.collector.cancel();
      return r.done.catch(() => undefined);
    });
    await Promise.all(pending);
    await this.closeApis();
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
    const run = new TrainingRun(randomUUID(), request);
    // Stored first: a failed write leaves no half-registered run for stop() to trip over.
    this.options.store?.createTraining(run.uuid, describeTrainingRequest(request));
    this.runs.set(run.uuid, run);
    run.done = this.execute(run);
    return run.uuid;
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
    if (run) return this.runSummary(run);
    const store = this.options.store;
    const t = store?.getTraining(uuid);
    if (!store || !t) return undefined;
    const rounds = store.rounds(uuid);
    return {
      training_uuid: uuid,
      status: t.status,
      message: t.message,
      final_accuracy: t.finalAccuracy,
      initial_accuracy: rounds.find((r) => r.round === 0)?.accuracy ?? null,
      rounds: rounds.filter((r) => r.round > 0 && r.accuracy !== null).map((r) => ({
        round: r.round, accuracy: r.accuracy!, loss: r.loss!, clients: r.clients, duration_ms: (r.finishedAt ?? r.startedAt) - r.startedAt,
      })),
      clients: store.clients(uuid).map((c) => ({ client_id: c.clientId, status: c.status, drop_reason: c.dropReason })),
    };
  }

  /** The global model file of a round (default: the last one). */
  exportModel(uuid: string, round?: number): { round: number; bytes: Buffer } {
    const run = this.runs.get(uuid);
    if (run) {
      const all = [...run.models.values()].filter((m) => round === undefined || m.round === round);
      const pick = all.sort((a, b) => b.round - a.round)[0];
      if (pick) return pick;
    }
    const rounds = this.options.store?.rounds(uuid) ?? [];
    const r = rounds.filter((x) => round === undefined || x.round === round).sort((a, b) => b.round - a.round)[0];
    if (!r) throw new Error(round === undefined ? `no model for training ${uuid}` : `no model for round ${round} of training ${uuid}`);
    return { round: r.round, bytes: readFileSync(r.modelPath) };
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
    run.status = status;
    run.message = message;
    const final = run.rounds.at(-1)?.accuracy ?? null;
    this.options.store?.setTrainingStatus(run.uuid, status, message, final);
  }

  private saveClient(run: TrainingRun, c: ClientState): void {
    this.options.store?.saveClient({
      trainingUuid: run.uuid, clientId: c.id, sandboxUuid: c.launched?.sandboxUuid ?? null, shardSize: c.shard.count, status: c.status, dropReason: c.dropReason,
    });
  }

  private activeClients(run: TrainingRun): ClientState[] {
    return [...run.clients.values()].filter((c) => c.status === 'ready');
  }

  private dropClient(run: TrainingRun, c: ClientState, reason: string): void {
    if (c.status === 'dropped' || c.status === 'finished') return;
    c.status = 'dropped';
    c.dropReason = reason;
    this.saveClient(run, c);
    run.phase?.collector.drop(c.id);
    this.log.warn(`FL training ${run.uuid}: client ${c.id} dropped (${reason})`);
    this.emit('fl_client_dropped', { training_uuid: run.uuid, client_id: c.id, reason });
  }

  private async execute(run: TrainingRun): Promise<TrainingSummary> {
    try {
      await this.prepare(run);
      await this.provision(run);
      await this.collectStatistics(run);
      this.setStatus(run, 'running');
      this.emit('fl_training_started', { training_uuid: run.uuid, clients: this.activeClients(run).map((c) => c.id), rounds: run.request.rounds, model: run.request.model });
      let params = initParameters(run.spec, new Prng(run.request.seed ^ 0x5eed));
      const initial = this.publishModel(run, 0, params, 0);
      const ev0 = evaluate(run.spec, params, run.test);
      run.initialAccuracy = ev0.accuracy;
      this.options.store?.finishRound(run.uuid, 0, ev0.accuracy, ev0.loss);
      let modelUuid = initial;
      for (let round = 1; round <= run.request.rounds; round++) {
        const started = performance.now();
        const updates = await this.fitRound(run, round, modelUuid);
        params = fedAvg(updates);
        modelUuid = this.publishModel(run, round, params, updates.length);
        const ev = evaluate(run.spec, params, run.test);
        const clientMetrics = await this.testRound(run, round, modelUuid);
        this.options.store?.finishRound(run.uuid, round, ev.accuracy, ev.loss);
        const summary = { round, accuracy: ev.accuracy, loss: ev.loss, clients: updates.length, duration_ms: performance.now() - started };
        run.rounds.push(summary);
        this.log.info(`FL training ${run.uuid}: round ${round} accuracy ${(ev.accuracy * 100).toFixed(2)} % loss ${ev.loss.toFixed(4)} (${updates.length} clients)`);
        this.emit('fl_round_completed', { training_uuid: run.uuid, ...summary, client_metrics: clientMetrics });
      }
      this.setStatus(run, 'finished', `${run.request.rounds} rounds completed`);
      for (const c of this.activeClients(run)) {
        await this.notify(run, c, { type: 'TRAINING_FINISHED', trainingUuid: run.uuid });
        c.status = 'finished';
        this.saveClient(run, c);
      }
    } catch (e) {
      const cancelled = run.abort.signal.aborted;
      const message = cancelled ? String((run.abort.signal.reason as Error | undefined)?.message ?? 'cancelled') : (e as Error).message;
      this.setStatus(run, cancelled ? 'cancelled' : 'failed', message);
      this.log.error(`FL training ${run.uuid} ${run.status}: ${message}`);
    } finally {
      run.phase?.collector.cancel();
      run.phase = undefined;
      for (const c of run.clients.values()) this.tokens.delete(c.tokenHash);
      if (!run.request.keepSandboxes) {
        await Promise.all([...run.clients.values()].map((c) => c.launched?.destroy().catch((e: Error) => this.log.error(`FL: destroying client ${c.id} failed: ${e.message}`))));
      }
    }
    const summary = this.runSummary(run);
    this.emit('fl_training_finished', { training_uuid: run.uuid, status: run.status, message: run.message, final_accuracy: summary.final_accuracy });
    this.runs.delete(run.uuid);
    return summary;
  }

  private runSummary(run: TrainingRun): TrainingSummary {
    return {
      training_uuid: run.uuid,
      status: run.status,
      message: run.message,
      final_accuracy: run.rounds.at(-1)?.accuracy ?? null,
      initial_accuracy: run.initialAccuracy,
      rounds: [...run.rounds],
      clients: [...run.clients.values()].map((c) => ({ client_id: c.id, status: c.status, drop_reason: c.dropReason })),
    };
  }

  /** Loads and splits the data: the held-out test part stays here, each client gets one shard. */
  private async prepare(run: TrainingRun): Promise<void> {
    const r = run.request;
    const data = typeof r.dataset === 'string' ? await loadDataset(r.dataset) : r.dataset;
    const classes = classCount(data);
    if (classes < 2) throw new Error('the data set needs at least two classes');
    run.spec = { kind: r.model, inputs: data.dimensions, classes, hidden: r.model === 'mlp' ? r.hidden : 0 };
    run.maxModelBytes = (parameterCount(run.spec) + 2 * run.spec.inputs) * 4 + 64 * 1024;
    const { train, test } = splitTrainTest(data, r.testFraction, r.seed);
    run.test = test;
    const shards = splitShards(train, r.clients, r.split, r.seed + 1, Math.min(10, Math.floor(train.count / r.clients)));
    shards.forEach((shard, i) => {
      const token = randomBytes(32).toString('base64url');
      const c: ClientState = { id: `client-${i + 1}`, token, tokenHash: hashToken(token), shard, status: 'launching', dropReason: null };
      run.clients.set(c.id, c);
      this.tokens.set(c.tokenHash, { run, client: c });
      this.saveClient(run, c);
    });
  }

  private async provision(run: TrainingRun): Promise<void> {
    const r = run.request;
    const host = this.options.host;
    const coordinatorUrl = host.coordinatorUrl(this.port);
    let index = 0;
    await Promise.all([...run.clients.values()].map(async (c) => {
      const i = index++;
      const trainer = r.clientTrainers[i] ?? r.trainer;
      try {
        const launched = await host.launch({
          trainingUuid: run.uuid,
          clientId: c.id,
          token: c.token,
          shard: c.shard,
          coordinatorUrl,
          hyperparameters: { epochs: r.localEpochs, learningRate: r.learningRate, batchSize: r.batchSize, mu: r.mu, seed: r.seed },
          ...(trainer ? { trainer } : {}),
        }, run.abort.signal);
        c.launched = launched;
        launched.onEnded((reason) => this.dropClient(run, c, `sandbox ended (${reason})`));
        this.saveClient(run, c);
      } catch (e) {
        if (run.abort.signal.aborted) return;
        this.dropClient(run, c, `launch failed: ${(e as Error).message}`);
      }
    }));
    run.abort.signal.throwIfAborted();
  }

  /** TRAINING_START to every launched agent (retried until its server answers), then wait for their feature statistics. */
  private async collectStatistics(run: TrainingRun): Promise<void> {
    this.setStatus(run, 'waiting_clients');
    const r = run.request;
    const deadline = Date.now() + r.readyTimeoutSeconds * 1000;
    const launched = [...run.clients.values()].filter((c) => c.launched && c.status === 'launching');
    const collector = new RoundCollector<FeatureStatistics>(launched.map((c) => c.id), r.readyTimeoutSeconds * 1000);
    run.phase = { kind: 'statistics', round: 0, modelUuid: '', collector: collector as RoundCollector<unknown> };
    const minReady = r.minClients;
    // Stop waiting for stragglers once min_clients answered and the others had a fair chance.
    await Promise.all(launched.map(async (c) => {
      while (Date.now() < deadline && !run.abort.signal.aborted && c.status === 'launching') {
        if (await this.notify(run, c, { type: 'TRAINING_START', trainingUuid: run.uuid }, false)) return;
        await sleep(200, run.abort.signal).catch(() => undefined);
      }
    }));
    const result = await collector.done;
    run.abort.signal.throwIfAborted();
    run.phase = undefined;
    for (const [id, stats] of result.received) {
      const c = run.clients.get(id)!;
      c.stats = stats;
      c.status = 'ready';
      this.saveClient(run, c);
    }
    for (const id of result.missing) this.dropClient(run, run.clients.get(id)!, 'not ready before the ready timeout');
    const ready = this.activeClients(run);
    if (ready.length < minReady) throw new Error(`only ${ready.length} of ${r.clients} clients became ready, min_clients is ${minReady}`);
    run.standardizer = combineFeatureStatistics(ready.map((c) => c.stats!));
    run.test = standardize(run.test, run.standardizer);
  }

  private publishModel(run: TrainingRun, round: number, params: Float32Array, clients: number): string {
    const uuid = randomUUID();
    const bytes = encodeModelFile({ spec: run.spec, params, standardizer: run.standardizer, metadata: { training_uuid: run.uuid, round: String(round) } });
    const dir = join(this.options.dataDir, run.uuid);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    const path = join(dir, `round-${round}.safetensors`);
    writeFileSync(path, bytes, { mode: 0o640 });
    run.models.set(uuid, { round, bytes });
    this.options.store?.startRound({ trainingUuid: run.uuid, round, globalModelUuid: uuid, modelPath: path, clients });
    return uuid;
  }

  private async fitRound(run: TrainingRun, round: number, modelUuid: string): Promise<WeightedUpdate[]> {
    const r = run.request;
    const received = await this.collectPhase<WeightedUpdate>(run, 'fit', round, modelUuid);
    if (received.size < r.minFitClients) {
      throw new Error(`round ${round}: ${received.size} update(s) received, min_fit_clients is ${r.minFitClients}`);
    }
    // Client-id order, not arrival order: the aggregate is bit-for-bit reproducible.
    return [...received.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([, u]) => u);
  }

  private async testRound(run: TrainingRun, round: number, modelUuid: string): Promise<Record<string, Record<string, number>>> {
    return Object.fromEntries(await this.collectPhase<Record<string, number>>(run, 'test', round, modelUuid));
  }

  /** One phase of a round: notify the active clients, collect until all answered or the deadline, drop the silent ones. */
  private async collectPhase<T>(run: TrainingRun, kind: 'fit' | 'test', round: number, modelUuid: string): Promise<Map<string, T>> {
    const selected = this.activeClients(run);
    const collector = new RoundCollector<T>(selected.map((c) => c.id), run.request.roundTimeoutSeconds * 1000);
    run.phase = { kind, round, modelUuid, collector: collector as RoundCollector<unknown> };
    const type = kind === 'fit' ? 'UPDATE_ROUND_START' : 'MODEL_TEST_ROUND';
    await Promise.all(selected.map((c) => this.notify(run, c, { type, trainingUuid: run.uuid, round, globalModelUuid: modelUuid })));
    const result = await collector.done;
    run.phase = undefined;
    run.abort.signal.throwIfAborted();
    const what = kind === 'fit' ? 'update' : 'metrics';
    for (const id of result.missing) this.dropClient(run, run.clients.get(id)!, `no ${what} before the round ${round} deadline`);
    return result.received;
  }

  /** POSTs a notification; a client that cannot be reached is dropped (unless `dropOnFailure` is false). */
  private async notify(run: TrainingRun, c: ClientState, n: Notification, dropOnFailure = true): Promise<boolean> {
    if (!c.launched) return false;
    try {
      const res = await fetch(`${c.launched.agentUrl}/notifications/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}` },
        body: JSON.stringify(encodeNotification(n)),
        signal: AbortSignal.any([AbortSignal.timeout(this.options.notifyTimeoutMs ?? 5000), run.abort.signal]),
      });
      await res.arrayBuffer();
      if (res.ok) return true;
      if (dropOnFailure) this.dropClient(run, c, `agent answered ${res.status} to ${n.type}`);
    } catch (e) {
      if (dropOnFailure && !run.abort.signal.aborted) this.dropClient(run, c, `agent unreachable for ${n.type}: ${(e as Error).message}`);
    }
    return false;
  }

  // ---- agent API handlers (called by coordinator-api) ----

  authenticate(token: string): Caller | undefined {
    return this.tokens.get(hashToken(token));
  }

  maxModelBytes(caller: Caller): number {
    return caller.run.maxModelBytes;
  }

  getModel(caller: Caller, modelUuid: string): Buffer {
    const m = caller.run.models.get(modelUuid);
    if (!m) throw notFound('no such model in this training');
    return m.bytes;
  }

  private expectPhase(caller: Caller, kind: Phase['kind'], modelUuid: string): Phase {
    const { run, client } = caller;
    if (client.status === 'dropped') throw forbidden('this client was dropped from the training');
    const phase = run.phase;
    if (!run.models.has(modelUuid)) throw notFound('no such model in this training');
    if (!phase || phase.kind !== kind) throw conflict(`the training is not collecting ${kind === 'fit' ? 'updates' : 'metrics'} now`);
    if (phase.modelUuid !== modelUuid) throw conflict('model is not the current round\'s global model');
    return phase;
  }

  private checkOwnerAndRound(caller: Caller, phase: Phase, fields: Record<string, unknown>): void {
    if (fields.owner !== caller.client.id) throw forbidden('owner does not match the token');
    const round = Number(fields.round);
    if (fields.round === undefined || !Number.isInteger(round)) throw invalid('round must be an integer');
    if (round !== phase.round) throw conflict(`round ${round} is not the current round ${phase.round}`);
    const outcome = phase.collector.wouldAccept(caller.client.id);
    if (outcome === 'duplicate') throw conflict('this client already answered this round');
    if (outcome === 'not_selected') throw conflict('this client is not part of this round');
  }

  acceptUpdate(caller: Caller, modelUuid: string, update: UploadedUpdate): void {
    const phase = this.expectPhase(caller, 'fit', modelUuid);
    this.checkOwnerAndRound(caller, phase, update.fields);
    const sampleSize = Number(update.fields.sample_size);
    if (!Number.isInteger(sampleSize) || sampleSize < 1) throw invalid('sample_size must be a positive integer');
    if (sampleSize > caller.client.shard.count) throw invalid(`sample_size ${sampleSize} exceeds this client's shard`);
    const metrics = parseMetrics(update.fields.metric_names, update.fields.metric_values, false);
    let params: Float32Array;
    try {
      params = decodeModelFile(update.file, caller.run.spec).params;
    } catch (e) {
      if (e instanceof SafetensorsError) throw invalid(e.message);
      throw e;
    }
    const { run, client } = caller;
    this.options.store?.recordParticipation({ trainingUuid: run.uuid, round: phase.round, clientId: client.id, phase: 'fit', sampleSize, metrics, receivedAt: Date.now() });
    phase.collector.accept(client.id, { weights: params, sampleSize } satisfies WeightedUpdate);
  }

  acceptMetrics(caller: Caller, modelUuid: string, fields: Record<string, unknown>): void {
    const phase = this.expectPhase(caller, 'test', modelUuid);
    this.checkOwnerAndRound(caller, phase, fields);
    const metrics = parseMetrics(fields.metric_names, fields.metric_values, true);
    const { run, client } = caller;
    this.options.store?.recordParticipation({ trainingUuid: run.uuid, round: phase.round, clientId: client.id, phase: 'test', sampleSize: null, metrics, receivedAt: Date.now() });
    phase.collector.accept(client.id, metrics);
  }

  acceptStatistics(caller: Caller, trainingUuid: string, body: unknown): void {
    const { run, client } = caller;
    if (trainingUuid !== run.uuid) throw forbidden('token belongs to another training');
    if (client.status === 'dropped') throw forbidden('this client was dropped from the training');
    const phase = run.phase;
    if (!phase || phase.kind !== 'statistics') throw conflict('the training is not collecting statistics now');
    if (typeof body !== 'object' || body === null || (body as { owner?: unknown }).owner !== client.id) throw forbidden('owner does not match the token');
    let stats: FeatureStatistics;
    try {
      stats = validateFeatureStatistics(body, run.spec.inputs);
    } catch (e) {
      throw invalid((e as Error).message);
    }
    if (stats.count !== client.shard.count) throw invalid(`count ${stats.count} does not match this client's shard`);
    const outcome = phase.collector.accept(client.id, stats);
    if (outcome === 'duplicate') throw conflict('statistics already received');
    if (outcome !== 'accepted') throw conflict('statistics from this client are not expected now');
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** metric_names / metric_values: JSON arrays (or comma-separated strings) of equal length. */
function parseMetrics(namesRaw: unknown, valuesRaw: unknown, required: boolean): Record<string, number> {
  if (namesRaw === undefined && valuesRaw === undefined && !required) return {};
  const list = (v: unknown): unknown[] => {
    if (Array.isArray(v)) return v;
    if (typeof v !== 'string') throw invalid('metric_names and metric_values are required');
    const t = v.trim();
    if (t.startsWith('[')) {
      try {
        const a = JSON.parse(t) as unknown;
        if (Array.isArray(a)) return a;
      } catch {
        // fall through to the error below
      }
      throw invalid('metric list is not a JSON array');
    }
    return t === '' ? [] : t.split(',').map((s) => s.trim());
  };
  const names = list(namesRaw);
  const values = list(valuesRaw);
  if (names.length !== values.length) throw invalid('metric_names and metric_values differ in length');
  if (names.length > 32) throw invalid('at most 32 metrics');
  const out: Record<string, number> = {};
  names.forEach((n, i) => {
    if (typeof n !== 'string' || !METRIC_NAME.test(n)) throw invalid('bad metric name');
    const v = Number(values[i]);
    if (values[i] === '' || values[i] === null || !Number.isFinite(v)) throw invalid(`metric ${n} is not a finite number`);
    out[n] = v;
  });
  return out;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
