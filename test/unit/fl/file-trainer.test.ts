import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrainerReport, TrainerFailure } from '../../../src/fl/agent/file-trainer.js';

describe('a user trainer\'s stdout report', () => {
  it('is the last non-empty line, earlier lines being the trainer\'s own log', () => {
    assert.deepEqual(parseTrainerReport('epoch 1\nepoch 2\n{"samples": 40, "train_loss": 0.5}\n\n'), { samples: 40, metrics: { samples: 40, train_loss: 0.5 } });
  });

  it('leaves samples out when the trainer does not say', () => {
    assert.deepEqual(parseTrainerReport('{"accuracy": 0.9}'), { metrics: { accuracy: 0.9 } });
  });

  for (const [what, stdout, reason] of [
    ['no output', '', /printed no JSON report/],
    ['a last line that is not JSON', '{"a": 1}\ndone', /last stdout line is not JSON/],
    ['a JSON array', '[1, 2]', /not a JSON object/],
    ['a non-numeric value', '{"loss": "low"}', /"loss" is not a finite number/],
    ['a bad metric name', '{"a b": 1}', /not a metric name/],
  ] as const) {
    it(`fails the round on ${what}`, () => {
      assert.throws(() => parseTrainerReport(stdout), (e: Error) => e instanceof TrainerFailure && reason.test(e.message));
    });
  }
});
