import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientCounter } from '../../../../src/server/client-limits/client-counter.js';

describe('per-client counter', () => {
  it('refuses a key at its cap and leaves other keys alone', () => {
    const counter = new ClientCounter(2);
    assert.ok(counter.tryAcquire('a'));
    assert.ok(counter.tryAcquire('a'));
    assert.equal(counter.tryAcquire('a'), undefined);
    assert.ok(counter.tryAcquire('b'));
  });

  it('frees a place on release, once however often it is called', () => {
    const counter = new ClientCounter(1);
    const release = counter.tryAcquire('a')!;
    release();
    release();
    assert.equal(counter.count('a'), 0);
    assert.ok(counter.tryAcquire('a'));
    assert.equal(counter.tryAcquire('a'), undefined);
  });

  it('forgets keys that drop to zero', () => {
    const counter = new ClientCounter(null);
    const releases = Array.from({ length: 100 }, (_, i) => counter.tryAcquire(`k${i}`)!);
    assert.equal(counter.size, 100);
    for (const release of releases) release();
    assert.equal(counter.size, 0);
  });
});
