// What agents may do through the coordinator API: a registry of per-client bearer tokens and the checks on every upload.
import { createHash, randomBytes } from 'node:crypto';
import type { FlStore } from '../../database/fl-store.js';
import { validateFeatureStatistics, type FeatureStatistics } from '../data/standardizer.js';
import { decodeModelFile } from '../model/model-file.js';
import { SafetensorsError } from '../model/safetensors.js';
import type { ClientUpdate } from '../strategy/strategy.js';
import type { CoordinatorApiHandlers, UploadedUpdate } from './coordinator-api.js';
import { conflict, forbidden, invalid, notFound } from './fl-api-error.js';
import type { ModelStore } from './model-store.js';
import type { ClientState, Phase, TrainingRun } from './training-run.js';

export interface Caller {
  run: TrainingRun;
  client: ClientState;
}

/** A fresh client secret and the hash the registry keeps under it. */
export function newClientToken(): { token: string; tokenHash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, tokenHash: hashToken(token) };
}

export class AgentApi implements CoordinatorApiHandlers<Caller> {
  /** sha256(token) → caller: the registry never holds a token itself. */
  private readonly tokens = new Map<string, Caller>();

  constructor(
    private readonly models: ModelStore,
    private readonly store?: FlStore,
    /** Leaves a client out of the training for good (an agent that cannot run the training's trainer). */
    private readonly dropClient?: (run: TrainingRun, client: ClientState, reason: string) => void,
  ) {}

  register(run: TrainingRun, client: ClientState): void {
    this.tokens.set(client.tokenHash, { run, client });
  }

  /** Revokes every token of a training: its agents are refused from now on. */
  revoke(run: TrainingRun): void {
    for (const c of run.clients.values()) this.tokens.delete(c.tokenHash);
  }

  authenticate(token: string): Caller | undefined {
    return this.tokens.get(hashToken(token));
  }

  maxModelBytes(caller: Caller): number {
    return caller.run.maxModelBytes;
  }

  getModel(caller: Caller, modelUuid: string): Buffer {
    const m = this.models.get(caller.run.uuid, modelUuid);
    if (!m) throw notFound('no such model in this training');
    return m.bytes;
  }

  acceptUpdate(caller: Caller, modelUuid: string, update: UploadedUpdate): void {
    const { run } = caller;
    // An update for an earlier round's model comes from a straggler whose round closed without it: refused, counted.
    if (run.phase?.modelUuid !== modelUuid && this.models.get(run.uuid, modelUuid) && caller.client.status !== 'dropped') {
      run.lateUpdatesDiscarded++;
      this.store?.countLateUpdate(run.uuid);
    }
    const phase = this.expectPhase(caller, 'fit', modelUuid);
    checkOwnerAndRound(caller, phase, update.fields);
    const sampleSize = Number(update.fields.sample_size);
    if (!Number.isInteger(sampleSize) || sampleSize < 1) throw invalid('sample_size must be a positive integer');
    if (sampleSize > caller.client.shard.count) throw invalid(`sample_size ${sampleSize} exceeds this client's shard`);
    const metrics = parseMetrics(update.fields.metric_names, update.fields.metric_values, false);
    let weights: Float32Array;
    try {
      weights = decodeModelFile(update.file, caller.run.spec).params;
    } catch (e) {
      if (e instanceof SafetensorsError) throw invalid(e.message);
      throw e;
    }
    const { client } = caller;
    // Re-encoded, not the upload as sent: only the checked weights, under the training's own input standardizer and metadata.
    this.models.keepClientUpdate(run.uuid, client.id, phase.round, { spec: run.spec, params: weights, standardizer: run.standardizer });
    this.store?.recordParticipation({ trainingUuid: run.uuid, round: phase.round, clientId: client.id, phase: 'fit', sampleSize, metrics, receivedAt: Date.now() });
    phase.collector.accept(client.id, { clientId: client.id, weights, sampleSize } satisfies ClientUpdate);
  }

  acceptMetrics(caller: Caller, modelUuid: string, fields: Record<string, unknown>): void {
    const phase = this.expectPhase(caller, 'test', modelUuid);
    checkOwnerAndRound(caller, phase, fields);
    const metrics = parseMetrics(fields.metric_names, fields.metric_values, true);
    const { run, client } = caller;
    this.store?.recordParticipation({ trainingUuid: run.uuid, round: phase.round, clientId: client.id, phase: 'test', sampleSize: null, metrics, receivedAt: Date.now() });
    phase.collector.accept(client.id, metrics);
  }

  acceptFailure(caller: Caller, modelUuid: string, body: unknown): void {
    const kind = caller.run.phase?.kind;
    if (kind !== 'fit' && kind !== 'test') throw conflict('the training is not running a round now');
    const phase = this.expectPhase(caller, kind, modelUuid);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('failure body must be a JSON object');
    const fields = body as Record<string, unknown>;
    checkOwnerAndRound(caller, phase, fields);
    if (typeof fields.reason !== 'string' || fields.reason.trim() === '') throw invalid('reason must be a non-empty string');
    // Shown in fl status and logs: one printable line, bounded.
    const reason = [...fields.reason].map((ch) => (ch < ' ' || ch === '\u007f' ? ' ' : ch)).join('').trim().slice(0, 200);
    phase.failures.set(caller.client.id, reason);
    phase.collector.drop(caller.client.id);
  }

  acceptStatistics(caller: Caller, trainingUuid: string, body: unknown): void {
    const { run, client } = caller;
    if (trainingUuid !== run.uuid) throw forbidden('token belongs to another training');
    if (client.status === 'dropped') throw forbidden('this client was dropped from the training');
    const phase = run.phase;
    // A client joining a running training sends its statistics on its own; they make it ready (the standardizer stays).
    const joining = client.onJoined !== undefined && client.status === 'launching';
    if (!joining && (!phase || phase.kind !== 'statistics')) throw conflict('the training is not collecting statistics now');
    if (typeof body !== 'object' || body === null || (body as { owner?: unknown }).owner !== client.id) throw forbidden('owner does not match the token');
    let stats: FeatureStatistics;
    try {
      stats = validateFeatureStatistics(body, run.spec.inputs);
    } catch (e) {
      throw invalid((e as Error).message);
    }
    if (stats.count !== client.shard.count) throw invalid(`count ${stats.count} does not match this client's shard`);
    // An agent from an image older than user trainers ignores the trainer directory and would train with the built-in one.
    if (run.trainerBundle !== undefined && (body as { trainer?: unknown }).trainer !== 'file') {
      const reason = 'its agent cannot run a user trainer (the sandbox image predates --trainer: rebuild it with build-image)';
      if (joining) client.onJoined!(reason);
      else this.dropClient?.(run, client, reason);
      throw invalid(reason);
    }
    if (joining) {
      client.stats = stats;
      client.onJoined!();
      return;
    }
    const outcome = phase!.collector.accept(client.id, stats);
    if (outcome === 'duplicate') throw conflict('statistics already received');
    if (outcome !== 'accepted') throw conflict('statistics from this client are not expected now');
  }

  private expectPhase(caller: Caller, kind: Phase['kind'], modelUuid: string): Phase {
    const { run, client } = caller;
    if (client.status === 'dropped') throw forbidden('this client was dropped from the training');
    const phase = run.phase;
    if (!this.models.get(run.uuid, modelUuid)) throw notFound('no such model in this training');
    if (!phase || phase.kind !== kind) throw conflict(`the training is not collecting ${kind === 'fit' ? 'updates' : 'metrics'} now`);
    if (phase.modelUuid !== modelUuid) throw conflict('model is not the current round\'s global model');
    return phase;
  }
}

function checkOwnerAndRound(caller: Caller, phase: Phase, fields: Record<string, unknown>): void {
  if (fields.owner !== caller.client.id) throw forbidden('owner does not match the token');
  const round = Number(fields.round);
  if (fields.round === undefined || !Number.isInteger(round)) throw invalid('round must be an integer');
  if (round !== phase.round) throw conflict(`round ${round} is not the current round ${phase.round}`);
  const outcome = phase.collector.wouldAccept(caller.client.id);
  if (outcome === 'duplicate') throw conflict('this client already answered this round');
  if (outcome === 'not_selected') throw conflict('this client is not part of this round');
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
