import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateEvaluate } from '../../../src/fl/strategy/aggregate-evaluate.js';

describe('aggregateEvaluate', () => {
  it('weights each client\'s accuracy and loss by its test size', () => {
    const out = aggregateEvaluate([
      { clientId: 'a', testSize: 10, metrics: { accuracy: 0.5, loss: 1 } },
      { clientId: 'b', testSize: 30, metrics: { accuracy: 0.9, loss: 0.2 } },
    ]);
    assert.deepEqual(out, { ok: true, accuracy: 0.8, loss: 0.4, clients: 2 });
  });

  it('weights by the test size the coordinator knows, not by the samples a client claims', () => {
    const out = aggregateEvaluate([
      { clientId: 'a', testSize: 10, metrics: { accuracy: 1, loss: 0, samples: 1e9 } },
      { clientId: 'b', testSize: 10, metrics: { accuracy: 0, loss: 2, samples: 1 } },
    ]);
    assert.deepEqual(out, { ok: true, accuracy: 0.5, loss: 1, clients: 2 });
  });

  it('leaves out answers with an accuracy outside [0, 1] or a loss that is not a finite number ≥ 0', () => {
    const out = aggregateEvaluate([
      { clientId: 'a', testSize: 10, metrics: { accuracy: 0.6, loss: 0.5 } },
      { clientId: 'b', testSize: 10, metrics: { accuracy: 7, loss: 0.1 } },
      { clientId: 'c', testSize: 10, metrics: { accuracy: 0.9, loss: -1 } },
      { clientId: 'd', testSize: 10, metrics: { accuracy: 0.9, loss: Number.NaN } },
      { clientId: 'e', testSize: 10, metrics: { loss: 0.1 } },
    ]);
    assert.deepEqual(out, { ok: true, accuracy: 0.6, loss: 0.5, clients: 1 });
  });

  it('fails when no answer is usable', () => {
    assert.deepEqual(aggregateEvaluate([]), { ok: false, reason: 'no client reported usable test metrics' });
  });
});
