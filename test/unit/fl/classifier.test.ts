import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, initParameters, lossAndGradient, parameterCount, type ModelSpec } from '../../../src/fl/model/classifier.js';
import { trainLocal } from '../../../src/fl/model/sgd.js';
import { Prng } from '../../../src/fl/model/prng.js';
import type { Dataset } from '../../../src/fl/data/dataset.js';

function randomDataset(prng: Prng, count: number, dims: number, classes: number): Dataset {
  const features = new Float32Array(count * dims);
  for (let i = 0; i < features.length; i++) features[i] = prng.normal();
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = prng.nextInt(classes);
  return { features, labels, count, dimensions: dims };
}

/** Separable blobs: class c is centred on 3·e_c. */
function blobs(prng: Prng, count: number, classes: number): Dataset {
  const d = classes;
  const features = new Float32Array(count * d);
  const labels = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const c = r % classes;
    labels[r] = c;
    for (let k = 0; k < d; k++) features[r * d + k] = (k === c ? 3 : 0) + 0.5 * prng.normal();
  }
  return { features, labels, count, dimensions: d };
}

function checkGradient(spec: ModelSpec, prox?: { mu: number }): void {
  const prng = new Prng(7);
  const data = randomDataset(prng, 6, spec.inputs, spec.classes);
  const params = new Float32Array(parameterCount(spec));
  for (let i = 0; i < params.length; i++) params[i] = 0.5 * prng.normal();
  const anchor = new Float32Array(params.length);
  for (let i = 0; i < anchor.length; i++) anchor[i] = 0.3 * prng.normal();
  const p = prox ? { anchor, mu: prox.mu } : undefined;
  const rows = [0, 1, 2, 3, 4, 5];
  const grad = new Float32Array(params.length);
  lossAndGradient(spec, params, data, rows, 0, rows.length, grad, p);
  const eps = 1e-2;
  let checked = 0;
  for (let i = 0; i < params.length; i++) {
    const saved = params[i]!;
    params[i] = saved + eps;
    const up = lossAndGradient(spec, params, data, rows, 0, rows.length, new Float32Array(params.length), p);
    params[i] = saved - eps;
    const down = lossAndGradient(spec, params, data, rows, 0, rows.length, new Float32Array(params.length), p);
    params[i] = saved;
    const numeric = (up - down) / (2 * eps);
    assert.ok(Math.abs(numeric - grad[i]!) < 2e-3 + 2e-2 * Math.abs(numeric), `param ${i}: analytic ${grad[i]} vs numeric ${numeric}`);
    checked++;
  }
  assert.equal(checked, params.length);
}

describe('classifier', () => {
  it('softmax regression gradient matches central finite differences', () => {
    checkGradient({ kind: 'logreg', inputs: 5, classes: 4, hidden: 0 });
  });

  it('MLP gradient matches central finite differences', () => {
    checkGradient({ kind: 'mlp', inputs: 5, classes: 3, hidden: 7 });
  });

  it('FedProx proximal term gradient matches central finite differences', () => {
    checkGradient({ kind: 'logreg', inputs: 4, classes: 3, hidden: 0 }, { mu: 0.7 });
  });

  it('softmax regression loss of zero weights is log(classes)', () => {
    const spec: ModelSpec = { kind: 'logreg', inputs: 3, classes: 5, hidden: 0 };
    const data = randomDataset(new Prng(1), 10, 3, 5);
    const ev = evaluate(spec, new Float32Array(parameterCount(spec)), data);
    assert.ok(Math.abs(ev.loss - Math.log(5)) < 1e-9);
  });

  it('SGD drives both models above 95 % on separable blobs', () => {
    const prng = new Prng(11);
    const train = blobs(prng, 300, 4);
    const test = blobs(prng, 200, 4);
    for (const spec of [{ kind: 'logreg', inputs: 4, classes: 4, hidden: 0 }, { kind: 'mlp', inputs: 4, classes: 4, hidden: 8 }] as ModelSpec[]) {
      const init = initParameters(spec, new Prng(2));
      const before = evaluate(spec, init, test);
      const { params } = trainLocal(spec, init, train, { epochs: 20, learningRate: 0.1, batchSize: 16, seed: 3 });
      const after = evaluate(spec, params, test);
      assert.ok(after.accuracy > 0.95, `${spec.kind}: ${after.accuracy}`);
      assert.ok(after.loss < before.loss);
    }
  });

  it('local training is deterministic for a seed and leaves the initial weights untouched', () => {
    const spec: ModelSpec = { kind: 'mlp', inputs: 4, classes: 4, hidden: 5 };
    const data = blobs(new Prng(4), 64, 4);
    const init = initParameters(spec, new Prng(9));
    const copy = Float32Array.from(init);
    const a = trainLocal(spec, init, data, { epochs: 2, learningRate: 0.05, batchSize: 8, seed: 5 });
    const b = trainLocal(spec, init, data, { epochs: 2, learningRate: 0.05, batchSize: 8, seed: 5 });
    assert.deepEqual(a.params, b.params);
    assert.deepEqual(init, copy);
    assert.notDeepEqual(a.params, init);
  });

  it('a large FedProx mu keeps the local model close to the global one', () => {
    const spec: ModelSpec = { kind: 'logreg', inputs: 4, classes: 4, hidden: 0 };
    const data = blobs(new Prng(4), 128, 4);
    const init = new Float32Array(parameterCount(spec));
    const dist = (w: Float32Array) => Math.hypot(...Array.from(w, (v, i) => v - init[i]!));
    const free = trainLocal(spec, init, data, { epochs: 5, learningRate: 0.05, batchSize: 16, seed: 1 });
    const prox = trainLocal(spec, init, data, { epochs: 5, learningRate: 0.05, batchSize: 16, seed: 1, mu: 5 });
    assert.ok(dist(prox.params) < 0.5 * dist(free.params), `${dist(prox.params)} vs ${dist(free.params)}`);
  });

  it('refuses labels outside the model classes with a clear error', () => {
    const spec: ModelSpec = { kind: 'logreg', inputs: 2, classes: 2, hidden: 0 };
    const data: Dataset = { features: new Float32Array(4), labels: Int32Array.from([0, 5]), count: 2, dimensions: 2 };
    assert.throws(() => trainLocal(spec, new Float32Array(6), data, { epochs: 1, learningRate: 0.1, batchSize: 1, seed: 1 }), /label 5 at row 1/);
  });
});
