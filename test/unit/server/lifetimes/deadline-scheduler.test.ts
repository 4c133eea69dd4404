import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeadlineScheduler, MAX_TIMER_DELAY_MS } from '../../../../src/server/lifetimes/deadline-scheduler.js';
import { ManualClock } from '../../../helpers/manual-clock.js';

function harness() {
  const clock = new ManualClock();
  const fired: Array<{ key: string; at: number }> = [];
  const scheduler = new DeadlineScheduler<string>((key) => void fired.push({ key, at: clock.now() }), clock);
  return { clock, fired, scheduler, t0: clock.now() };
}

describe('DeadlineScheduler', () => {
  it('fires each key at its deadline, earliest first', () => {
    const { clock, fired, scheduler, t0 } = harness();
    scheduler.set('b', t0 + 2000);
    scheduler.set('a', t0 + 1000);
    clock.advance(5000);
    assert.deepEqual(fired, [
      { key: 'a', at: t0 + 1000 },
      { key: 'b', at: t0 + 2000 },
    ]);
    assert.equal(scheduler.size, 0);
  });

  it('keeps a single timer however many deadlines it holds', () => {
    const { clock, scheduler, t0 } = harness();
    for (let i = 0; i < 100; i++) scheduler.set(`k${i}`, t0 + 1000 + i);
    assert.equal(clock.pending, 1);
  });

  it('fires a key whose deadline moved later at the new deadline only', () => {
    const { clock, fired, scheduler, t0 } = harness();
    scheduler.set('a', t0 + 1000);
    scheduler.set('a', t0 + 3000);
    clock.advance(2000);
    assert.deepEqual(fired, []);
    clock.advance(1000);
    assert.deepEqual(fired, [{ key: 'a', at: t0 + 3000 }]);
  });

  it('never fires a deleted key, and stops its timer when nothing is left', () => {
    const { clock, fired, scheduler, t0 } = harness();
    scheduler.set('a', t0 + 1000);
    scheduler.delete('a');
    assert.equal(clock.pending, 0);
    clock.advance(5000);
    assert.deepEqual(fired, []);
  });

  it('fires a deadline already past at once', () => {
    const { clock, fired, scheduler, t0 } = harness();
    scheduler.set('late', t0 - 60_000);
    assert.deepEqual(clock.delays, [0]);
    clock.advance(0);
    assert.deepEqual(fired, [{ key: 'late', at: t0 }]);
  });

  it('fires every key due at the same moment in one pass', () => {
    const { clock, fired, scheduler, t0 } = harness();
    for (const key of ['x', 'y', 'z']) scheduler.set(key, t0 + 500);
    clock.advance(500);
    assert.deepEqual(fired.map((f) => f.key).sort(), ['x', 'y', 'z']);
  });

  it('lets a handler schedule its key again', () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const fired: number[] = [];
    const scheduler: DeadlineScheduler<string> = new DeadlineScheduler((key) => {
      fired.push(clock.now() - t0);
      if (fired.length < 3) scheduler.set(key, clock.now() + 1000);
    }, clock);
    scheduler.set('again', t0 + 1000);
    clock.advance(10_000);
    assert.deepEqual(fired, [1000, 2000, 3000]);
  });

  it('reaches a deadline beyond the longest timer Node can arm by re-arming', () => {
    const { clock, fired, scheduler, t0 } = harness();
    const far = t0 + MAX_TIMER_DELAY_MS * 2 + 5;
    scheduler.set('far', far);
    assert.equal(clock.delays[0], MAX_TIMER_DELAY_MS);
    clock.advance(MAX_TIMER_DELAY_MS * 2);
    assert.deepEqual(fired, []);
    clock.advance(5);
    assert.deepEqual(fired, [{ key: 'far', at: far }]);
  });

  it('forgets everything on clear', () => {
    const { clock, fired, scheduler, t0 } = harness();
    scheduler.set('a', t0 + 1000);
    scheduler.clear();
    clock.advance(2000);
    assert.deepEqual(fired, []);
    assert.equal(clock.pending, 0);
  });
});
