import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlCoordinator } from '../../../src/fl/coordinator/fl-coordinator.js';
import { InProcessClientHost } from '../../../src/fl/coordinator/in-process-client-host.js';
import { loadDataset } from '../../../src/fl/data/load-dataset.js';
import { formatCsvDataset } from '../../../src/fl/data/parse-csv-dataset.js';
import { splitTrainTest } from '../../../src/fl/data/split-dataset.js';
import { decodeModelFile, encodeModelFile } from '../../../src/fl/model/model-file.js';
import { encodeSafetensors } from '../../../src/fl/model/safetensors.js';

const PREDICT = fileURLToPath(new URL('../../../examples/predict.py', import.meta.url));
const DIGITS = fileURLToPath(new URL('../../fixtures/digits.csv.gz', import.meta.url));

function predictPy(...args: string[]): string {
  return execFileSync('python3', [PREDICT, ...args], { encoding: 'utf8' });
}

describe('examples/predict.py', () => {
  it('agrees with the coordinator\'s held-out accuracy on a round\'s model, for softmax regression and the MLP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-predict-'));
    const coordinator = new FlCoordinator({ host: new InProcessClientHost(), dataDir: join(dir, 'models'), listenPort: 0 });
    await coordinator.start();
    try {
      const seed = 7;
      // The held-out rows are the coordinator's: the same seeded split of the same file.
      const { test } = splitTrainTest(await loadDataset(DIGITS), 0.2, seed);
      const csv = join(dir, 'held-out.csv');
      writeFileSync(csv, `${Array.from({ length: test.dimensions }, (_, i) => `pixel${i}`).join(',')},label\n${formatCsvDataset(test)}`);
      for (const model of ['logreg', 'mlp'] as const) {
        const id = coordinator.startTraining({ clients: 3, rounds: 2, model, hidden: 16, dataset: DIGITS, seed, localEpochs: 1 });
        const summary = await coordinator.waitForTraining(id);
        assert.equal(summary.status, 'finished', summary.message);
        const file = join(dir, 'models', id, 'round-2.safetensors');
        const expected = summary.rounds[1]!.accuracy;
        const correct = Math.round(expected * test.count);
        assert.equal(predictPy(file, csv).trim(), `accuracy ${(correct / test.count).toFixed(6)} (${correct} of ${test.count} rows)`);
      }
    } finally {
      await coordinator.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a model file written before the input metadata keys existed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-predict-'));
    try {
      // A 2-feature, 2-class model, W = identity, b = 0, so the logits are z = (x − mean)·scale.
      // x = (3, 0.6), mean = (1, 0), scale = (0.5, 2): z = (1, 1.2) → class 1. Read as a divisor, z = (4, 0.3) → class 0.
      const spec = { kind: 'logreg' as const, inputs: 2, classes: 2, hidden: 0 };
      const current = encodeModelFile({ spec, params: Float32Array.from([1, 0, 0, 1, 0, 0]), standardizer: { mean: Float32Array.from([1, 0]), scale: Float32Array.from([0.5, 2]) }, metadata: {} });
      const old = encodeSafetensors({
        weight: { shape: [2, 2], data: Float32Array.from([1, 0, 0, 1]) },
        bias: { shape: [2], data: Float32Array.from([0, 0]) },
        'input.mean': { shape: [2], data: Float32Array.from([1, 0]) },
        'input.scale': { shape: [2], data: Float32Array.from([0.5, 2]) },
      }, { format: 'anweddol-fl/1', kind: 'logreg', inputs: '2', classes: '2', hidden: '0' });
      assert.deepEqual(decodeModelFile(old).standardizer, decodeModelFile(current).standardizer);
      writeFileSync(join(dir, 'x.csv'), '3,0.6,1\n');
      for (const [name, bytes] of [['current', current], ['old', old]] as const) {
        writeFileSync(join(dir, `${name}.safetensors`), bytes);
        assert.equal(predictPy(join(dir, `${name}.safetensors`), join(dir, 'x.csv'), '--predictions'), '1\naccuracy 1.000000 (1 of 1 rows)\n');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
