// Each FL client's latest update: kept beside the round models, one file per client, a model file of the weights the round averaged.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { AnweddolDatabase } from '../../../src/database/database.js';
import { FlStore } from '../../../src/database/fl-store.js';
import { FlCoordinator, type TrainingSummary } from '../../../src/fl/coordinator/fl-coordinator.js';
import { InProcessClientHost } from '../../../src/fl/coordinator/in-process-client-host.js';
import { ModelStore } from '../../../src/fl/coordinator/model-store.js';
import { parameterLayout, type ModelSpec } from '../../../src/fl/model/classifier.js';
import { decodeModelFile } from '../../../src/fl/model/model-file.js';
import { decodeSafetensors } from '../../../src/fl/model/safetensors.js';

const DIGITS = fileURLToPath(new URL('../../fixtures/digits.csv.gz', import.meta.url));
const SPEC: ModelSpec = { kind: 'logreg', inputs: 64, classes: 10, hidden: 0 };

describe('client updates of a training', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fl-updates-'));
  const database = new AnweddolDatabase(':memory:');
  const store = new FlStore(database);
  const coordinator = new FlCoordinator({ host: new InProcessClientHost(), dataDir: dir, listenPort: 0, store });
  let id = '';
  let summary: TrainingSummary;

  before(async () => {
    await coordinator.start();
    id = coordinator.startTraining({ clients: 2, rounds: 3, dataset: DIGITS, localEpochs: 1, readyTimeoutSeconds: 10, roundTimeoutSeconds: 30 });
    summary = await coordinator.waitForTraining(id);
    assert.equal(summary.status, 'finished', summary.message);
  });
  after(async () => {
    await coordinator.stop();
    database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps only the last round\'s update of each client, beside the round models', () => {
    assert.deepEqual(readdirSync(join(dir, id)).sort(), ['round-0.safetensors', 'round-1.safetensors', 'round-2.safetensors', 'round-3.safetensors', 'update-client-1.safetensors', 'update-client-2.safetensors']);
    assert.deepEqual(coordinator.clientUpdates(id).map((u) => [u.clientId, u.round]), [['client-1', 3], ['client-2', 3]]);
  });

  it('stores an update as a model file with the training\'s tensor names and shapes, owned by its client', () => {
    for (const update of coordinator.clientUpdates(id)) {
      const file = decodeSafetensors(update.bytes);
      const expected = [...parameterLayout(SPEC).map((t) => [t.name, t.shape]), ['input.mean', [64]], ['input.scale', [64]]];
      assert.deepEqual([...file.tensors].map(([name, t]) => [name, t.shape]).sort(), expected.sort());
      assert.equal(file.metadata.owner, update.clientId);
      assert.equal(file.metadata.training_uuid, id);
    }
  });

  it('keeps the weights the last round averaged into its global model (FedAvg by sample size)', () => {
    const sizes = new Map(store.participation(id).filter((p) => p.phase === 'fit' && p.round === 3).map((p) => [p.clientId, p.sampleSize!]));
    const updates = coordinator.clientUpdates(id).map((u) => ({ weight: sizes.get(u.clientId)!, params: decodeModelFile(u.bytes, SPEC).params }));
    const total = updates.reduce((n, u) => n + u.weight, 0);
    const global = decodeModelFile(coordinator.exportModel(id, 3).bytes, SPEC).params;
    for (let i = 0; i < global.length; i++) {
      const mean = updates.reduce((sum, u) => sum + (u.params[i]! * u.weight) / total, 0);
      assert.ok(Math.abs(mean - global[i]!) < 1e-5, `parameter ${i}: the average of the kept updates is ${mean}, the global model has ${global[i]}`);
    }
  });
});

describe('ModelStore client updates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fl-update-store-'));
  const models = new ModelStore(join(dir, 'fl'));
  const model = { spec: SPEC, params: new Float32Array(parameterLayout(SPEC).reduce((n, t) => n + t.length, 0)), standardizer: { mean: new Float32Array(64), scale: new Float32Array(64).fill(1) } };
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces a client\'s earlier update with its next one', () => {
    const training = randomUUID();
    models.keepClientUpdate(training, 'client-1', 1, model);
    models.keepClientUpdate(training, 'client-1', 2, model);
    assert.deepEqual(models.clientUpdates(training).map((u) => [u.clientId, u.round]), [['client-1', 2]]);
    assert.deepEqual(readdirSync(join(dir, 'fl', training)), ['update-client-1.safetensors']);
  });

  it('lists nothing for a training id that is not a uuid, so no id reads outside the data folder', () => {
    // A training folder beside the data folder, with an update in it: `../<uuid>` would reach it.
    const beside = randomUUID();
    new ModelStore(dir).keepClientUpdate(beside, 'client-9', 1, model);
    assert.deepEqual(models.clientUpdates(`../${beside}`), []);
  });

  it('refuses a client id that cannot name a file', () => {
    assert.throws(() => models.keepClientUpdate(randomUUID(), '../client-1', 1, model), /cannot name a file/);
  });
});
