import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRate, parseRate, RateFormatError } from '../../../../src/server/client-limits/rate.js';

describe('rate parsing', () => {
  it('reads a count per second, minute or hour', () => {
    assert.deepEqual(parseRate('1/s'), { count: 1, periodMs: 1000 });
    assert.deepEqual(parseRate('10/min'), { count: 10, periodMs: 60_000 });
    assert.deepEqual(parseRate('10/h'), { count: 10, periodMs: 3_600_000 });
  });

  it('allows spaces around the parts', () => {
    assert.deepEqual(parseRate(' 5 / min '), { count: 5, periodMs: 60_000 });
  });

  it('refuses zero, negatives, fractions, missing parts and unknown units, naming the expected form', () => {
    for (const bad of ['0/min', '-1/min', '1.5/min', '/min', '5/', '5', '5/minute', '5/MIN', '5/d', '5/min/s', '', '1e3/s', '05/min']) {
      assert.throws(() => parseRate(bad), RateFormatError, bad);
      assert.equal(isRate(bad), false, bad);
    }
    assert.throws(() => parseRate('5/d'), /"5\/d" is not a rate "N\/unit" .* unit s, min or h \(e\.g\. "10\/min"\)/);
  });
});
