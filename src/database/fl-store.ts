// FL state in the daemon's SQLite file: trainings, rounds, client participation and metrics.
import type { AnweddolDatabase } from './database.js';

/** `interrupted`: the daemon stopped (or died) during the training; it resumes at the next start or with `fl resume`. */
export type TrainingStatus = 'provisioning' | 'waiting_clients' | 'running' | 'interrupted' | 'finished' | 'failed' | 'cancelled';
export type ClientStatus = 'launching' | 'ready' | 'dropped' | 'finished';
export type ParticipationPhase = 'fit' | 'test';

export interface TrainingRecord {
  uuid: string;
  status: TrainingStatus;
  message: string;
  /** The training request as given (JSON), without secrets. */
  config: Record<string, unknown>;
  createdAt: number;
  finishedAt: number | null;
  finalAccuracy: number | null;
  /** How many times the training resumed after an interruption. */
  resumed: number;
  /** Updates refused because their round had closed (over-selected stragglers), over every run of the training. */
  lateUpdatesDiscarded: number;
}

/** A client left out of a round's aggregate, and why (its trainer failed, its sandbox ended, it was silent). */
export interface LeftOutClient {
  clientId: string;
  reason: string;
}

/** A round's held-out result and who was not in its aggregate. */
export interface RoundResult {
  accuracy: number;
  loss: number;
  dropped?: LeftOutClient[];
  /** Over-selected clients whose update came after the round closed. */
  late?: string[];
}

export interface RoundRecord {
  trainingUuid: string;
  round: number;
  globalModelUuid: string;
  modelPath: string;
  accuracy: number | null;
  loss: number | null;
  clients: number;
  startedAt: number;
  finishedAt: number | null;
  dropped: LeftOutClient[];
  late: string[];
}

export interface ClientRecord {
  trainingUuid: string;
  clientId: string;
  sandboxUuid: string | null;
  shardSize: number;
  status: ClientStatus;
  dropReason: string | null;
}

export interface ParticipationRecord {
  trainingUuid: string;
  round: number;
  clientId: string;
  phase: ParticipationPhase;
  sampleSize: number | null;
  metrics: Record<string, number>;
  receivedAt: number;
}

const MIGRATIONS = [
  `CREATE TABLE fl_trainings (
    uuid TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    config_json TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    final_accuracy REAL
  );
  CREATE TABLE fl_clients (
    training_uuid TEXT NOT NULL REFERENCES fl_trainings(uuid) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    sandbox_uuid TEXT,
    shard_size INTEGER NOT NULL,
    status TEXT NOT NULL,
    drop_reason TEXT,
    PRIMARY KEY (training_uuid, client_id)
  );
  CREATE TABLE fl_rounds (
    training_uuid TEXT NOT NULL REFERENCES fl_trainings(uuid) ON DELETE CASCADE,
    round INTEGER NOT NULL,
    global_model_uuid TEXT NOT NULL UNIQUE,
    model_path TEXT NOT NULL,
    accuracy REAL,
    loss REAL,
    clients INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    PRIMARY KEY (training_uuid, round)
  );
  CREATE TABLE fl_participation (
    training_uuid TEXT NOT NULL REFERENCES fl_trainings(uuid) ON DELETE CASCADE,
    round INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    phase TEXT NOT NULL,
    sample_size INTEGER,
    metrics_json TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (training_uuid, round, client_id, phase)
  );`,
  // The server optimizer's moments after the last aggregated round: a resumed training continues with them.
  `CREATE TABLE fl_optimizer_state (
    training_uuid TEXT PRIMARY KEY REFERENCES fl_trainings(uuid) ON DELETE CASCADE,
    round INTEGER NOT NULL,
    state BLOB NOT NULL
  );`,
  // What a resumed training needs to start again (the request as given, data by path), and how often it resumed.
  `ALTER TABLE fl_trainings ADD COLUMN request_json TEXT;
  ALTER TABLE fl_trainings ADD COLUMN resumed INTEGER NOT NULL DEFAULT 0;`,
  // Who each round left out, and the late updates, outlive the daemon (`fl status` after a restart).
  `ALTER TABLE fl_rounds ADD COLUMN dropped_json TEXT;
  ALTER TABLE fl_rounds ADD COLUMN late_json TEXT;
  ALTER TABLE fl_trainings ADD COLUMN late_updates_discarded INTEGER NOT NULL DEFAULT 0;`,
];

export class FlStore {
  private readonly s;

  constructor(database: AnweddolDatabase) {
    database.migrate('fl', MIGRATIONS);
    const db = database.db;
    this.s = {
      insertTraining: db.prepare('INSERT INTO fl_trainings (uuid, status, message, config_json, request_json, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      request: db.prepare('SELECT request_json FROM fl_trainings WHERE uuid = ?').pluck(),
      markResumed: db.prepare(`UPDATE fl_trainings SET status = 'provisioning', message = '', finished_at = NULL, resumed = resumed + 1 WHERE uuid = ? AND status = 'interrupted'`),
      setStatus: db.prepare('UPDATE fl_trainings SET status = ?, message = ?, finished_at = ?, final_accuracy = COALESCE(?, final_accuracy) WHERE uuid = ?'),
      getTraining: db.prepare('SELECT * FROM fl_trainings WHERE uuid = ?'),
      listTrainings: db.prepare('SELECT * FROM fl_trainings ORDER BY created_at DESC LIMIT ?'),
      upsertClient: db.prepare(`INSERT INTO fl_clients (training_uuid, client_id, sandbox_uuid, shard_size, status, drop_reason) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (training_uuid, client_id) DO UPDATE SET sandbox_uuid = COALESCE(excluded.sandbox_uuid, sandbox_uuid), status = excluded.status, drop_reason = excluded.drop_reason`),
      clients: db.prepare('SELECT * FROM fl_clients WHERE training_uuid = ? ORDER BY client_id'),
      // A round cut short by a crash is started again by the resumed training: its row is replaced, never doubled.
      insertRound: db.prepare(`INSERT INTO fl_rounds (training_uuid, round, global_model_uuid, model_path, clients, started_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (training_uuid, round) DO UPDATE SET global_model_uuid = excluded.global_model_uuid, model_path = excluded.model_path,
        clients = excluded.clients, started_at = excluded.started_at, accuracy = NULL, loss = NULL, finished_at = NULL, dropped_json = NULL, late_json = NULL`),
      finishRound: db.prepare('UPDATE fl_rounds SET accuracy = ?, loss = ?, finished_at = ?, dropped_json = ?, late_json = ? WHERE training_uuid = ? AND round = ?'),
      countLateUpdate: db.prepare('UPDATE fl_trainings SET late_updates_discarded = late_updates_discarded + 1 WHERE uuid = ?'),
      rounds: db.prepare('SELECT * FROM fl_rounds WHERE training_uuid = ? ORDER BY round'),
      roundByModel: db.prepare('SELECT * FROM fl_rounds WHERE global_model_uuid = ?'),
      insertParticipation: db.prepare(`INSERT OR REPLACE INTO fl_participation (training_uuid, round, client_id, phase, sample_size, metrics_json, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
      participation: db.prepare('SELECT * FROM fl_participation WHERE training_uuid = ? ORDER BY round, client_id, phase'),
      saveOptimizerState: db.prepare(`INSERT INTO fl_optimizer_state (training_uuid, round, state) VALUES (?, ?, ?)
        ON CONFLICT (training_uuid) DO UPDATE SET round = excluded.round, state = excluded.state`),
      optimizerState: db.prepare('SELECT round, state FROM fl_optimizer_state WHERE training_uuid = ?'),
      unfinished: db.prepare(`SELECT uuid FROM fl_trainings WHERE status IN ('provisioning', 'waiting_clients', 'running')`).pluck(),
      interrupted: db.prepare(`SELECT uuid FROM fl_trainings WHERE status = 'interrupted' ORDER BY created_at`).pluck(),
    };
    // The round's result and the optimizer moments it produced land together: a crash leaves both at the previous round.
    this.completeRound = db.transaction((trainingUuid: string, round: number, result: RoundResult, state: Uint8Array | null, now: number) => {
      const dropped = result.dropped?.length ? JSON.stringify(result.dropped) : null;
      const late = result.late?.length ? JSON.stringify(result.late) : null;
      this.s.finishRound.run(result.accuracy, result.loss, now, dropped, late, trainingUuid, round);
      if (state) this.saveOptimizerState(trainingUuid, round, state);
    });
  }

  private readonly completeRound: (trainingUuid: string, round: number, result: RoundResult, state: Uint8Array | null, now: number) => void;

  /** `request` is the training request as given, stored only when it can be replayed (data by path). */
  createTraining(uuid: string, config: Record<string, unknown>, now = Date.now(), request: Record<string, unknown> | null = null): void {
    this.s.insertTraining.run(uuid, 'provisioning', '', JSON.stringify(config), request && JSON.stringify(request), now);
  }

  /** The request a resumed training starts again from, or null when it was given data in memory. */
  resumableRequest(uuid: string): Record<string, unknown> | null {
    const json = this.s.request.get(uuid) as string | null | undefined;
    return json ? (JSON.parse(json) as Record<string, unknown>) : null;
  }

  /** Moves an interrupted training back to provisioning and counts the resume; false when it was not interrupted. */
  markResumed(uuid: string): boolean {
    return this.s.markResumed.run(uuid).changes === 1;
  }

  /** Trainings a stop or crash interrupted, oldest first. */
  interruptedTrainings(): string[] {
    return this.s.interrupted.all() as string[];
  }

  setTrainingStatus(uuid: string, status: TrainingStatus, message = '', finalAccuracy: number | null = null, now = Date.now()): void {
    const terminal = status === 'finished' || status === 'failed' || status === 'cancelled';
    this.s.setStatus.run(status, message, terminal ? now : null, finalAccuracy, uuid);
  }

  getTraining(uuid: string): TrainingRecord | undefined {
    const r = this.s.getTraining.get(uuid) as Record<string, unknown> | undefined;
    return r && toTraining(r);
  }

  listTrainings(limit = 50): TrainingRecord[] {
    return (this.s.listTrainings.all(limit) as Record<string, unknown>[]).map(toTraining);
  }

  /** Trainings a previous daemon left running (it died): marked interrupted at start-up. */
  unfinishedTrainings(): string[] {
    return this.s.unfinished.all() as string[];
  }

  saveClient(c: ClientRecord): void {
    this.s.upsertClient.run(c.trainingUuid, c.clientId, c.sandboxUuid, c.shardSize, c.status, c.dropReason);
  }

  clients(trainingUuid: string): ClientRecord[] {
    return (this.s.clients.all(trainingUuid) as Record<string, unknown>[]).map((r) => ({
      trainingUuid: r.training_uuid as string,
      clientId: r.client_id as string,
      sandboxUuid: r.sandbox_uuid as string | null,
      shardSize: r.shard_size as number,
      status: r.status as ClientStatus,
      dropReason: r.drop_reason as string | null,
    }));
  }

  startRound(r: { trainingUuid: string; round: number; globalModelUuid: string; modelPath: string; clients: number }, now = Date.now()): void {
    this.s.insertRound.run(r.trainingUuid, r.round, r.globalModelUuid, r.modelPath, r.clients, now);
  }

  /** Records a round's held-out result and who it left out and, in the same transaction, the server optimizer's state after it (if any). */
  finishRound(trainingUuid: string, round: number, result: RoundResult, optimizerState: Uint8Array | null = null, now = Date.now()): void {
    this.completeRound(trainingUuid, round, result, optimizerState, now);
  }

  /** One more update refused because its round had closed. */
  countLateUpdate(trainingUuid: string): void {
    this.s.countLateUpdate.run(trainingUuid);
  }

  rounds(trainingUuid: string): RoundRecord[] {
    return (this.s.rounds.all(trainingUuid) as Record<string, unknown>[]).map(toRound);
  }

  roundByModel(globalModelUuid: string): RoundRecord | undefined {
    const r = this.s.roundByModel.get(globalModelUuid) as Record<string, unknown> | undefined;
    return r && toRound(r);
  }

  recordParticipation(p: ParticipationRecord): void {
    this.s.insertParticipation.run(p.trainingUuid, p.round, p.clientId, p.phase, p.sampleSize, JSON.stringify(p.metrics), p.receivedAt);
  }

  /** Replaces the training's optimizer state (opaque bytes, encoded by src/fl) with the one after `round`. */
  saveOptimizerState(trainingUuid: string, round: number, state: Uint8Array): void {
    this.s.saveOptimizerState.run(trainingUuid, round, Buffer.from(state.buffer, state.byteOffset, state.byteLength));
  }

  optimizerState(trainingUuid: string): { round: number; state: Buffer } | undefined {
    return this.s.optimizerState.get(trainingUuid) as { round: number; state: Buffer } | undefined;
  }

  participation(trainingUuid: string): ParticipationRecord[] {
    return (this.s.participation.all(trainingUuid) as Record<string, unknown>[]).map((r) => ({
      trainingUuid: r.training_uuid as string,
      round: r.round as number,
      clientId: r.client_id as string,
      phase: r.phase as ParticipationPhase,
      sampleSize: r.sample_size as number | null,
      metrics: JSON.parse(r.metrics_json as string) as Record<string, number>,
      receivedAt: r.received_at as number,
    }));
  }
}

function toTraining(r: Record<string, unknown>): TrainingRecord {
  return {
    uuid: r.uuid as string,
    status: r.status as TrainingStatus,
    message: r.message as string,
    config: JSON.parse(r.config_json as string) as Record<string, unknown>,
    createdAt: r.created_at as number,
    finishedAt: r.finished_at as number | null,
    finalAccuracy: r.final_accuracy as number | null,
    resumed: (r.resumed as number | undefined) ?? 0,
    lateUpdatesDiscarded: (r.late_updates_discarded as number | undefined) ?? 0,
  };
}

function toRound(r: Record<string, unknown>): RoundRecord {
  return {
    trainingUuid: r.training_uuid as string,
    round: r.round as number,
    globalModelUuid: r.global_model_uuid as string,
    modelPath: r.model_path as string,
    accuracy: r.accuracy as number | null,
    loss: r.loss as number | null,
    clients: r.clients as number,
    startedAt: r.started_at as number,
    finishedAt: r.finished_at as number | null,
    dropped: r.dropped_json ? (JSON.parse(r.dropped_json as string) as LeftOutClient[]) : [],
    late: r.late_json ? (JSON.parse(r.late_json as string) as string[]) : [],
  };
}
