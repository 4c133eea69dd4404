import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from '../../../../src/server/client-limits/token-bucket.js';

function bucket(count: number, periodMs: number) {
  let now = 1_000_000;
  const b = new TokenBucket({ count, periodMs }, () => now);
  return { b, advance: (ms: number) => void (now += ms) };
}

describe('token bucket', () => {
  it('allows a burst of the full count, then refuses', () => {
    const { b } = bucket(3, 60_000);
    assert.deepEqual([b.tryTake(), b.tryTake(), b.tryTake(), b.tryTake()], [true, true, true, false]);
  });

  it('refills one token per period/count', () => {
    const { b, advance } = bucket(3, 60_000);
    for (let i = 0; i < 3; i++) b.tryTake();
    advance(19_999);
    assert.equal(b.tryTake(), false);
    advance(1);
    assert.equal(b.tryTake(), true);
    assert.equal(b.tryTake(), false);
  });

  it('never holds more than its count after a long quiet period', () => {
    const { b, advance } = bucket(2, 1000);
    advance(3_600_000);
    assert.deepEqual([b.tryTake(), b.tryTake(), b.tryTake()], [true, true, false]);
  });

  it('reports full only once every token is back', () => {
    const { b, advance } = bucket(2, 1000);
    assert.equal(b.isFull(), true);
    b.tryTake();
    assert.equal(b.isFull(), false);
    advance(500);
    assert.equal(b.isFull(), true);
  });

  it('ignores a clock that goes backwards', () => {
    const { b, advance } = bucket(1, 1000);
    b.tryTake();
    advance(-10_000);
    assert.equal(b.tryTake(), false);
  });
});
