// Per-client data: each client trains on its own file; a shared test file or each client's own held-out rows; files that disagree fail early.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnweddolDatabase } from '../../../src/database/database.js';
import { FlStore } from '../../../src/database/fl-store.js';
import { FlCoordinator, type FlEventName } from '../../../src/fl/coordinator/fl-coordinator.js';
import { InProcessClientHost } from '../../../src/fl/coordinator/in-process-client-host.js';
import { splitTrainTest } from '../../../src/fl/data/split-dataset.js';
import { combineFeatureStatistics, computeFeatureStatistics } from '../../../src/fl/data/standardizer.js';
import { decodeModelFile } from '../../../src/fl/model/model-file.js';
import { cutDigits } from '../../helpers/digits-files.js';

describe('FL training on per-client data files (in-process clients)', () => {
  let dir: string;
  let database: AnweddolDatabase;
  let store: FlStore;
  let host: InProcessClientHost;
  let coordinator: FlCoordinator;
  let cut: Awaited<ReturnType<typeof cutDigits>>;
  const events: Array<{ name: FlEventName; payload: Record<string, unknown> }> = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fl-client-data-'));
    cut = await cutDigits(dir);
    database = new AnweddolDatabase(':memory:');
    store = new FlStore(database);
    host = new InProcessClientHost();
    coordinator = new FlCoordinator({ host, dataDir: join(dir, 'fl'), listenPort: 0, store, emit: (name, payload) => events.push({ name, payload }) });
    await coordinator.start();
  });

  after(async () => {
    await coordinator.stop();
    database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const BASE = { rounds: 3, localEpochs: 2, seed: 4, roundTimeoutSeconds: 20, readyTimeoutSeconds: 20 };

  it('trains three clients on their own files, each evaluating its own held-out rows, the accuracy weighted by their test sizes', async () => {
    const id = coordinator.startTraining({ ...BASE, clientData: cut.files });
    const s = await coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', s.message);
    assert.ok(s.final_accuracy! > 0.85, String(s.final_accuracy));
    // Each client held out a seeded 20 % of its own file: the coordinator knows the sizes it weights by.
    const testSizes = cut.parts.map((p, i) => splitTrainTest(p, 0.2, 4 + i).test.count);
    const last = events.find((e) => e.name === 'fl_round_completed' && e.payload.training_uuid === id && e.payload.round === 3)!.payload;
    const metrics = last.client_metrics as Record<string, { accuracy: number }>;
    const weighted = testSizes.reduce((acc, n, i) => acc + metrics[`client-${i + 1}`]!.accuracy * n, 0) / testSizes.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(weighted - (last.accuracy as number)) < 1e-9, `${weighted} vs ${String(last.accuracy)}`);
    // Round 0 (the initial model) is evaluated by the clients too.
    assert.equal(store.participation(id).filter((p) => p.round === 0 && p.phase === 'test').length, 3);
    assert.deepEqual(store.clients(id).map((c) => c.shardSize), cut.parts.map((p, i) => p.count - testSizes[i]!));
  });

  it('standardises with the mean and deviation combined from the clients\' own training rows', async () => {
    const id = coordinator.startTraining({ ...BASE, rounds: 1, clientData: cut.files });
    assert.equal((await coordinator.waitForTraining(id)).status, 'finished');
    const expected = combineFeatureStatistics(cut.parts.map((p, i) => computeFeatureStatistics(splitTrainTest(p, 0.2, 4 + i).train)));
    const model = decodeModelFile(coordinator.exportModel(id, 0).bytes);
    assert.deepEqual(model.standardizer.mean, expected.mean);
    assert.deepEqual(model.standardizer.scale, expected.scale);
  });

  it('evaluates a shared --test-data file on the coordinator, with no test phase for the initial model', async () => {
    const id = coordinator.startTraining({ ...BASE, clientData: cut.files, testData: cut.testFile });
    const s = await coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', s.message);
    assert.ok(s.final_accuracy! > 0.85, String(s.final_accuracy));
    assert.equal(store.participation(id).filter((p) => p.round === 0).length, 0);
  });

  it('fails the training before any client starts when a file has other columns, naming the file and line', async () => {
    const bad = join(dir, 'site-d.csv');
    writeFileSync(bad, readFileSync(cut.files[1]!, 'utf8').split('\n').map((l) => l.split(',').slice(1).join(',')).join('\n'));
    const launched = host.clients.length;
    const id = coordinator.startTraining({ ...BASE, clientData: [cut.files[0]!, bad, cut.files[2]!] });
    const s = await coordinator.waitForTraining(id);
    assert.equal(s.status, 'failed');
    assert.equal(s.message, `${bad} line 1: 64 columns, but ${cut.files[0]} has 65`);
    assert.equal(host.clients.length, launched);
    assert.deepEqual(store.rounds(id), []);
  });

  it('fails naming the file when a client file is missing', async () => {
    const missing = join(dir, 'nope.csv');
    const s = await coordinator.waitForTraining(coordinator.startTraining({ ...BASE, clientData: [cut.files[0]!, missing] }));
    assert.equal(s.status, 'failed');
    assert.match(s.message, new RegExp(`${missing.replace(/[.]/g, '\\.')}`));
  });

  it('refuses a join without a data file, and gives a client joining with one its own held-out rows, which it evaluates', async () => {
    // Enough rounds that the newcomer, ready during one of the first, still fits and tests in a later one.
    const id = coordinator.startTraining({ ...BASE, rounds: 10, clientData: cut.files });
    while (!events.some((e) => e.name === 'fl_round_completed' && e.payload.training_uuid === id && e.payload.round === 1)) await new Promise((r) => setTimeout(r, 10));
    await assert.rejects(coordinator.joinTraining(id), /has per-client data: a joining client needs its own data file \(--data\)/);
    assert.equal(await coordinator.joinTraining(id, cut.files[0]), 'client-4');
    const s = await coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', s.message);
    const launch = host.clients.find((c) => c.launch.trainingUuid === id && c.launch.clientId === 'client-4')!.launch;
    assert.equal(launch.testShard?.count, splitTrainTest(cut.parts[0]!, 0.2, 4 + 3).test.count);
    assert.ok(store.participation(id).some((p) => p.clientId === 'client-4' && p.phase === 'test'));
  });

  it('gives a user trainer\'s test round the client\'s own held-out rows as ANWEDDOL_FL_DATA', async () => {
    // Keeps the model as it came and reports, in a test round, how many rows its data file holds.
    const trainerDir = join(dir, 'counting-trainer');
    mkdirSync(trainerDir);
    writeFileSync(join(trainerDir, 'train'), [
      '#!/bin/sh',
      'if [ "$ANWEDDOL_FL_MODE" = test ]; then echo "{\\"accuracy\\": 0.5, \\"loss\\": 1, \\"rows\\": $(wc -l < "$ANWEDDOL_FL_DATA")}"; exit 0; fi',
      'cp "$ANWEDDOL_FL_MODEL_IN" "$ANWEDDOL_FL_MODEL_OUT"; echo "{}"',
      '',
    ].join('\n'), { mode: 0o755 });
    const id = coordinator.startTraining({ ...BASE, rounds: 1, clientData: cut.files, trainerDir });
    const s = await coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', s.message);
    const metrics = events.find((e) => e.name === 'fl_round_completed' && e.payload.training_uuid === id)!.payload.client_metrics as Record<string, { rows: number }>;
    assert.deepEqual(cut.parts.map((_p, i) => metrics[`client-${i + 1}`]!.rows), cut.parts.map((p, i) => splitTrainTest(p, 0.2, 4 + i).test.count));
  });
});
