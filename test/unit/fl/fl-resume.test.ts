// Interrupted trainings: resumed on start or by request from the last completed round, each round recorded once; cancel and refusals.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnweddolDatabase } from '../../../src/database/database.js';
import { FlStore } from '../../../src/database/fl-store.js';
import { FlCoordinator, type FlEventName } from '../../../src/fl/coordinator/fl-coordinator.js';
import { InProcessClientHost } from '../../../src/fl/coordinator/in-process-client-host.js';
import type { TrainingRequestInput } from '../../../src/fl/coordinator/training-request.js';
import { formatCsvDataset } from '../../../src/fl/data/parse-csv-dataset.js';
import { blobs } from '../../helpers/fl-harness.js';
import { misbehavingTrainer, NODE_TRAINER } from '../../helpers/trainer-dirs.js';

/** A store that reports each round it starts recording (its global model published, its result not yet in). */
class WatchedStore extends FlStore {
  constructor(database: AnweddolDatabase, private readonly onRoundStarted?: (round: number) => void) {
    super(database);
  }

  override startRound(r: Parameters<FlStore['startRound']>[0], now?: number): void {
    super.startRound(r, now);
    this.onRoundStarted?.(r.round);
  }
}

/** A daemon's FL side over one data folder and SQLite file: each `boot()` is a new daemon process on the same state. */
class Install {
  readonly dir = mkdtempSync(join(tmpdir(), 'fl-resume-'));
  readonly csv = join(this.dir, 'blobs.csv');
  private live: Array<{ coordinator: FlCoordinator; database: AnweddolDatabase }> = [];

  constructor() {
    writeFileSync(this.csv, formatCsvDataset(blobs(400, 1)));
  }

  async boot(options: {
    resumeOnStart?: boolean;
    onEvent?: (name: FlEventName, payload: Record<string, unknown>, c: FlCoordinator) => void;
    onRoundStarted?: (round: number, c: FlCoordinator) => void;
  } = {}) {
    const database = new AnweddolDatabase(join(this.dir, 'anweddol.db'));
    const store = new WatchedStore(database, (round) => options.onRoundStarted?.(round, coordinator));
    const coordinator: FlCoordinator = new FlCoordinator({
      host: new InProcessClientHost(), dataDir: join(this.dir, 'fl'), listenPort: 0, store,
      emit: (name, payload) => options.onEvent?.(name, payload, coordinator),
      ...(options.resumeOnStart !== undefined ? { resumeOnStart: options.resumeOnStart } : {}),
    });
    await coordinator.start();
    this.live.push({ coordinator, database });
    return { coordinator, store };
  }

  /** Reads the state between two daemons. */
  inspect<T>(read: (store: FlStore) => T): T {
    const database = new AnweddolDatabase(join(this.dir, 'anweddol.db'));
    try {
      return read(new FlStore(database));
    } finally {
      database.close();
    }
  }

  /** Stops every booted coordinator (the daemon stopping) and closes its database. */
  async shutdown(): Promise<void> {
    for (const { coordinator, database } of this.live.splice(0)) {
      await coordinator.stop();
      database.close();
    }
  }

  async remove(): Promise<void> {
    await this.shutdown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const request = (dataset: string): TrainingRequestInput => ({
  clients: 2, rounds: 6, dataset, localEpochs: 1, learningRate: 0.05, strategy: 'fedadam', serverLearningRate: 0.05, seed: 7, roundTimeoutSeconds: 10, readyTimeoutSeconds: 10,
});

/**
 * Starts a training and stops the daemon in the middle of round `round + 1`: its global model is published and
 * its updates recorded, its result is not. Returns the training's uuid.
 */
async function interruptAfterRound(install: Install, round: number, extra: Partial<TrainingRequestInput> = {}): Promise<string> {
  let stopped: Promise<void> | undefined;
  const { coordinator } = await install.boot({
    onRoundStarted: (started, c) => {
      if (started === round + 1) stopped = c.stop();
    },
  });
  const id = coordinator.startTraining({ ...request(install.csv), ...extra });
  const summary = await coordinator.waitForTraining(id);
  await stopped;
  assert.equal(summary.status, 'interrupted');
  await install.shutdown();
  return id;
}

describe('resuming interrupted FL trainings (in-process clients, SQLite file)', () => {
  let reference: number[] = [];

  before(async () => {
    const install = new Install();
    try {
      const { coordinator } = await install.boot();
      const s = await coordinator.waitForTraining(coordinator.startTraining(request(install.csv)));
      assert.equal(s.status, 'finished');
      reference = s.rounds.map((r) => r.accuracy);
    } finally {
      await install.remove();
    }
  });

  it('resumes a training stopped during round 3 at the next start, records rounds 1–6 once, and matches the uninterrupted run', async () => {
    const install = new Install();
    after(() => install.remove());
    const id = await interruptAfterRound(install, 2);
    const before = install.inspect((s) => s.rounds(id));
    assert.deepEqual(before.map((r) => [r.round, r.finishedAt !== null]), [[0, true], [1, true], [2, true], [3, false]]);
    const { coordinator, store } = await install.boot();
    const summary = await coordinator.waitForTraining(id);
    assert.equal(summary.status, 'finished', summary.message);
    assert.equal(summary.resumed, 1);
    assert.deepEqual(summary.rounds.map((r) => r.round), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(store.rounds(id).map((r) => r.round), [0, 1, 2, 3, 4, 5, 6]);
    // Completed rounds are not run again: their global models are the ones recorded before the stop.
    assert.deepEqual(store.rounds(id).slice(0, 3).map((r) => r.globalModelUuid), before.slice(0, 3).map((r) => r.globalModelUuid));
    assert.equal(store.participation(id).filter((p) => p.round === 3 && p.phase === 'fit').length, 2);
    summary.rounds.forEach((r, i) => assert.ok(Math.abs(r.accuracy - reference[i]!) < 0.01, `round ${r.round}: ${r.accuracy} vs ${reference[i]}`));
    assert.equal(coordinator.summary(id)?.resumed, 1);
  });

  it('leaves an interrupted training waiting when resume on start is off, and resumeTraining continues it', async () => {
    const install = new Install();
    after(() => install.remove());
    const id = await interruptAfterRound(install, 1);
    const { coordinator, store } = await install.boot({ resumeOnStart: false });
    assert.equal(store.getTraining(id)?.status, 'interrupted');
    assert.equal(coordinator.resumeTraining(id), 1);
    const summary = await coordinator.waitForTraining(id);
    assert.equal(summary.status, 'finished', summary.message);
    assert.deepEqual(store.rounds(id).map((r) => r.round), [0, 1, 2, 3, 4, 5, 6]);
  });

  it('cancels an interrupted training, which then does not resume at the next start', async () => {
    const install = new Install();
    after(() => install.remove());
    const id = await interruptAfterRound(install, 1);
    const first = await install.boot({ resumeOnStart: false });
    assert.equal((await first.coordinator.cancel(id)).status, 'cancelled');
    await install.shutdown();
    const { store } = await install.boot();
    assert.equal(store.getTraining(id)?.status, 'cancelled');
    assert.deepEqual(store.rounds(id).map((r) => r.round), [0, 1, 2]);
  });

  it('refuses to resume or cancel an unknown training, and to resume or cancel a finished one, naming its state', async () => {
    const install = new Install();
    after(() => install.remove());
    const { coordinator } = await install.boot();
    assert.throws(() => coordinator.resumeTraining('nope'), /^TrainingControlError: no training nope$/);
    await assert.rejects(coordinator.cancel('nope'), /no training nope/);
    const id = coordinator.startTraining({ ...request(install.csv), rounds: 1 });
    assert.throws(() => coordinator.resumeTraining(id), /is running/);
    await coordinator.waitForTraining(id);
    assert.throws(() => coordinator.resumeTraining(id), /is finished: only an interrupted training can resume/);
    await assert.rejects(coordinator.cancel(id), /is already finished/);
  });

  it('fails a training given its data in memory at the next start, saying it cannot resume', async () => {
    const install = new Install();
    after(() => install.remove());
    let stopped: Promise<void> | undefined;
    const { coordinator } = await install.boot({ onEvent: (name, _p, c) => void (name === 'fl_round_completed' && (stopped = c.stop())) });
    const id = coordinator.startTraining({ ...request(install.csv), dataset: blobs(400, 1) });
    await coordinator.waitForTraining(id);
    await stopped;
    await install.shutdown();
    const { store } = await install.boot();
    const t = store.getTraining(id)!;
    assert.equal(t.status, 'failed');
    assert.match(t.message, /cannot resume: .*given its data in memory/);
  });

  it('reads a --trainer directory again on resume: without its train the training stays interrupted, naming it; restored, it resumes', async () => {
    const install = new Install();
    after(() => install.remove());
    const trainerDir = join(install.dir, 'trainer');
    cpSync(NODE_TRAINER, trainerDir, { recursive: true });
    const id = await interruptAfterRound(install, 1, { trainerDir, rounds: 3 });
    renameSync(join(trainerDir, 'train'), join(install.dir, 'train.moved'));
    const { coordinator, store } = await install.boot({ resumeOnStart: false });
    assert.throws(() => coordinator.resumeTraining(id), /^TrainingControlError: training .*: trainer: .* has no 'train' file/);
    assert.equal(store.getTraining(id)?.status, 'interrupted');
    renameSync(join(install.dir, 'train.moved'), join(trainerDir, 'train'));
    assert.equal(coordinator.resumeTraining(id), 1);
    const summary = await coordinator.waitForTraining(id);
    assert.equal(summary.status, 'finished', summary.message);
    assert.deepEqual(store.rounds(id).map((r) => r.round), [0, 1, 2, 3]);
  });

  it('does not relaunch a client joined with fl join when the training resumes: it is recorded as dropped, and a new join gets the next id', async () => {
    const install = new Install();
    after(() => install.remove());
    let stopped: Promise<void> | undefined;
    const first = await install.boot({
      onEvent: (name, p, c) => void (name === 'fl_round_completed' && p.round === 1 && c.joinTraining(p.training_uuid as string).then(() => (stopped = c.stop()))),
    });
    const id = first.coordinator.startTraining(request(install.csv));
    assert.equal((await first.coordinator.waitForTraining(id)).status, 'interrupted');
    await stopped;
    await install.shutdown();
    let joined: Promise<string> | undefined;
    const { coordinator, store } = await install.boot({
      resumeOnStart: false,
      onEvent: (name, p, c) => void (name === 'fl_round_completed' && !joined && (joined = c.joinTraining(p.training_uuid as string))),
    });
    coordinator.resumeTraining(id);
    const summary = await coordinator.waitForTraining(id);
    assert.equal(summary.status, 'finished', summary.message);
    assert.equal(await joined, 'client-4');
    const client3 = store.clients(id).find((c) => c.clientId === 'client-3')!;
    assert.equal(client3.status, 'dropped');
    assert.match(client3.dropReason!, /joined with fl join: a resumed training does not relaunch/);
  });
});

describe('who each round left out, across a daemon restart (in-process clients, SQLite file)', () => {
  /** Runs a training to its end, restarts the daemon, and returns the live summary and the one the new daemon gives. */
  async function acrossRestart(install: Install, extra: Partial<TrainingRequestInput>) {
    const first = await install.boot();
    const id = first.coordinator.startTraining({ ...request(install.csv), ...extra });
    const live = await first.coordinator.waitForTraining(id);
    assert.equal(live.status, 'finished', live.message);
    await install.shutdown();
    const { coordinator } = await install.boot();
    return { live, restored: coordinator.summary(id)! };
  }

  it('shows a client whose trainer crashed as left out of that round, with the reason, after a restart', async () => {
    const install = new Install();
    const trainerDir = misbehavingTrainer('crash', 'client-2', 2);
    after(async () => {
      await install.remove();
      rmSync(trainerDir, { recursive: true, force: true });
    });
    const { live, restored } = await acrossRestart(install, { rounds: 3, minClients: 1, trainerDir });
    assert.deepEqual(live.rounds[1]!.dropped, [{ client_id: 'client-2', reason: 'the trainer exited with code 3' }]);
    assert.deepEqual(restored.rounds.map((r) => r.dropped), [undefined, [{ client_id: 'client-2', reason: 'the trainer exited with code 3' }], undefined]);
  });

  it('shows the over-selected stragglers of each round and the late updates discarded after a restart', async () => {
    const install = new Install();
    const trainerDir = misbehavingTrainer('slow', 'client-3', 1);
    after(async () => {
      await install.remove();
      rmSync(trainerDir, { recursive: true, force: true });
    });
    const { live, restored } = await acrossRestart(install, { clients: 3, minClients: 2, fraction: 0.5, overselect: 1.5, rounds: 20, trainerDir });
    assert.deepEqual(live.rounds[0]!.late, ['client-3']);
    assert.ok(live.late_updates_discarded! >= 1, `late updates discarded: ${live.late_updates_discarded}`);
    assert.deepEqual(restored.rounds.map((r) => r.late), live.rounds.map((r) => r.late));
    assert.equal(restored.late_updates_discarded, live.late_updates_discarded);
  });
});
