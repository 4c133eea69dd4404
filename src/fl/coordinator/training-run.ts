// One training's live state: an explicit state machine (provisioning → waiting_clients → running → an end state) and its clients.
import type { FlStore, RoundRecord, TrainingStatus } from '../../database/fl-store.js';
import type { Dataset } from '../data/dataset.js';
import type { FeatureStatistics, Standardizer } from '../data/standardizer.js';
import type { ModelSpec } from '../model/classifier.js';
import type { LaunchedClient } from './client-host.js';
import type { RoundCollector } from './round-collector.js';
import type { TrainerBundle } from './trainer-bundle.js';
import type { TrainingRequest } from './training-request.js';

export interface RoundSummary {
  round: number;
  accuracy: number;
  loss: number;
  clients: number;
  duration_ms: number;
  /** Clients asked for an update and left out of this round's aggregate, with the reason (trainer failed, sandbox ended, silent). */
  dropped?: Array<{ client_id: string; reason: string }>;
  /** Over-selected clients whose update had not come when the first K had (`--overselect`): their update is discarded. */
  late?: string[];
}

export interface TrainingSummary {
  training_uuid: string;
  status: TrainingStatus;
  message: string;
  final_accuracy: number | null;
  initial_accuracy: number | null;
  rounds: RoundSummary[];
  /** How many times the training resumed after an interruption. */
  resumed: number;
  clients: Array<{ client_id: string; status: string; drop_reason: string | null }>;
  /** Updates that arrived after their round had closed (over-selected stragglers), refused. */
  late_updates_discarded?: number;
}

export type ClientStatus = 'launching' | 'ready' | 'dropped' | 'finished';

export interface ClientState {
  id: string;
  /** Bearer secret shared with this client's agent (memory only, never logged or stored). */
  token: string;
  tokenHash: string;
  shard: Dataset;
  /** The client's own held-out rows (per-client data without a test file). */
  testShard?: Dataset;
  status: ClientStatus;
  dropReason: string | null;
  launched?: LaunchedClient;
  stats?: FeatureStatistics;
  /** Set for a client joining a running training (`fl join`): called once its statistics made it ready, or with why they cannot. */
  onJoined?: (failure?: string) => void;
}

/** What the agent API accepts right now: one kind of answer, for one round's global model. */
export interface Phase {
  kind: 'statistics' | 'fit' | 'test';
  round: number;
  modelUuid: string;
  collector: RoundCollector<unknown>;
  /** Clients that reported they give no answer this phase, with their reason. */
  failures: Map<string, string>;
}

/** Allowed moves; an end state has none, so nothing can revive a finished, failed or cancelled training. */
// `interrupted` ends this run too: a resumed training is a new run of the same uuid.
const TRANSITIONS: Record<TrainingStatus, readonly TrainingStatus[]> = {
  provisioning: ['waiting_clients', 'interrupted', 'failed', 'cancelled'],
  waiting_clients: ['running', 'interrupted', 'failed', 'cancelled'],
  running: ['finished', 'interrupted', 'failed', 'cancelled'],
  interrupted: [],
  finished: [],
  failed: [],
  cancelled: [],
};

export class TrainingStateError extends Error {
  constructor(from: TrainingStatus, to: TrainingStatus) {
    super(`a training cannot go from ${from} to ${to}`);
    this.name = 'TrainingStateError';
  }
}

export class TrainingRun {
  readonly clients = new Map<string, ClientState>();
  readonly rounds: RoundSummary[] = [];
  readonly abort = new AbortController();
  phase: Phase | undefined;
  private current: TrainingStatus = 'provisioning';
  private reason = '';
  initialAccuracy: number | null = null;
  spec!: ModelSpec;
  /** The held-out set the coordinator evaluates; null when the clients evaluate their own held-out rows. */
  test: Dataset | null = null;
  /** The training part of a single data set, kept for clients that join without a data file of their own; null with per-client data. */
  pool: Dataset | null = null;
  /** Clients an earlier run of this training had taken in with `fl join` (not relaunched on resume): new ids start after them. */
  retiredJoins = 0;
  standardizer!: Standardizer;
  maxModelBytes = 0;
  /** The training's deadline (Unix ms), from this run's start: its sandboxes' lifetime. */
  deadline: number;
  /** Updates refused because their round had closed (`late_updates_discarded`). */
  lateUpdatesDiscarded = 0;
  done!: Promise<TrainingSummary>;

  constructor(
    readonly uuid: string,
    readonly request: TrainingRequest,
    readonly resumed = 0,
    /** The user trainer directory (`--trainer`), read once at start (again on resume). */
    readonly trainerBundle?: TrainerBundle,
  ) {
    this.deadline = Date.now() + request.deadlineSeconds * 1000;
  }

  get status(): TrainingStatus {
    return this.current;
  }

  get message(): string {
    return this.reason;
  }

  get ended(): boolean {
    return TRANSITIONS[this.current].length === 0;
  }

  /** Moves to `to`; an illegal move is a bug in the coordinator, thrown rather than recorded. */
  transition(to: TrainingStatus, message = ''): void {
    if (!TRANSITIONS[this.current].includes(to)) throw new TrainingStateError(this.current, to);
    this.current = to;
    this.reason = message;
  }

  activeClients(): ClientState[] {
    return [...this.clients.values()].filter((c) => c.status === 'ready');
  }

  summary(): TrainingSummary {
    return {
      training_uuid: this.uuid,
      status: this.current,
      message: this.reason,
      final_accuracy: this.rounds.at(-1)?.accuracy ?? null,
      initial_accuracy: this.initialAccuracy,
      rounds: [...this.rounds],
      resumed: this.resumed,
      clients: [...this.clients.values()].map((c) => ({ client_id: c.id, status: c.status, drop_reason: c.dropReason })),
      late_updates_discarded: this.lateUpdatesDiscarded,
    };
  }
}

/** A training this process no longer runs, as the store remembers it. */
export function storedTrainingSummary(store: FlStore, uuid: string): TrainingSummary | undefined {
  const t = store.getTraining(uuid);
  if (!t) return undefined;
  const rounds = store.rounds(uuid);
  return {
    training_uuid: uuid,
    status: t.status,
    message: t.message,
    final_accuracy: t.finalAccuracy,
    initial_accuracy: rounds.find((r) => r.round === 0)?.accuracy ?? null,
    rounds: rounds.filter((r) => r.round > 0 && r.accuracy !== null).map(roundSummaryOf),
    resumed: t.resumed,
    clients: store.clients(uuid).map((c) => ({ client_id: c.clientId, status: c.status, drop_reason: c.dropReason })),
    late_updates_discarded: t.lateUpdatesDiscarded,
  };
}

/** A recorded round as the summary shows it, with who it left out (as the live training showed it). */
export function roundSummaryOf(r: RoundRecord): RoundSummary {
  return {
    round: r.round, accuracy: r.accuracy!, loss: r.loss!, clients: r.clients, duration_ms: (r.finishedAt ?? r.startedAt) - r.startedAt,
    ...(r.dropped.length > 0 ? { dropped: r.dropped.map((d) => ({ client_id: d.clientId, reason: d.reason })) } : {}),
    ...(r.late.length > 0 ? { late: r.late } : {}),
  };
}
