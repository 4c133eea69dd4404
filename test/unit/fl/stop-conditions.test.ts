import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkStopConditions } from '../../../src/fl/coordinator/stop-conditions.js';

const NONE = { targetAccuracy: null, patience: null };

describe('stop conditions', () => {
  it('stops with "target reached" at the first round whose accuracy reaches the target', () => {
    assert.equal(checkStopConditions([0.5, 0.89], { ...NONE, targetAccuracy: 0.9 }), undefined);
    assert.deepEqual(checkStopConditions([0.5, 0.89, 0.9], { ...NONE, targetAccuracy: 0.9 }), {
      condition: 'target_accuracy', event: 'fl_target_reached', message: 'target reached', payload: { round: 3, accuracy: 0.9, target_accuracy: 0.9 },
    });
  });

  it('stops after patience rounds without a new best, counting a tie as no improvement', () => {
    const conditions = { ...NONE, patience: 2 };
    assert.equal(checkStopConditions([0.5, 0.7, 0.7], conditions), undefined);
    assert.deepEqual(checkStopConditions([0.5, 0.7, 0.7, 0.6], conditions), {
      condition: 'patience', event: 'fl_patience_exhausted', message: 'no improvement for 2 round(s)', payload: { round: 4, best_round: 2, best_accuracy: 0.7, patience: 2 },
    });
  });

  it('restarts the patience count at every improvement', () => {
    assert.equal(checkStopConditions([0.5, 0.4, 0.6, 0.5], { ...NONE, patience: 2 }), undefined);
  });

  it('never stops without conditions', () => {
    assert.equal(checkStopConditions([0.1, 0.1, 0.1, 0.1], NONE), undefined);
  });
});
