// The AMQP transport's idempotency ledger: one run per key, answers kept for a while, failures forgotten, size bounded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestLedger } from '../../../../src/server/amqp/request-ledger.js';

function ledger(now: { ms: number }, maxEntries = 100) {
  return new RequestLedger<string>({ ttlMs: 1000, maxEntries, clock: () => now.ms });
}

describe('RequestLedger', () => {
  it('runs the work once for a key while it is running and joins the second caller to it', async () => {
    const l = ledger({ ms: 0 });
    let runs = 0;
    let finish!: (value: string) => void;
    const work = () => (runs++, new Promise<string>((resolve) => (finish = resolve)));
    const first = l.run('k', work);
    const second = l.run('k', work);
    finish('answer');
    assert.deepEqual(await Promise.all([first, second]), ['answer', 'answer']);
    assert.equal(runs, 1);
  });

  it('repeats a settled answer within its time to live', async () => {
    const now = { ms: 0 };
    const l = ledger(now);
    await l.run('k', async () => 'first');
    now.ms = 999;
    assert.equal(await l.run('k', async () => 'second'), 'first');
  });

  it('runs again once the answer has expired', async () => {
    const now = { ms: 0 };
    const l = ledger(now);
    await l.run('k', async () => 'first');
    now.ms = 1000;
    assert.equal(await l.run('k', async () => 'second'), 'second');
  });

  it('forgets a failed run, so a redelivery tries again', async () => {
    const l = ledger({ ms: 0 });
    await assert.rejects(l.run('k', async () => Promise.reject(new Error('boom'))));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await l.run('k', async () => 'retried'), 'retried');
  });

  it('keeps at most maxEntries answers, dropping the oldest, never a running one', async () => {
    const l = ledger({ ms: 0 }, 3);
    const running = l.run('running', () => new Promise<string>(() => {}));
    for (const key of ['a', 'b', 'c', 'd']) await l.run(key, async () => key);
    assert.equal(l.size, 3);
    assert.equal(l.has('running'), true);
    assert.equal(l.has('a'), false);
    assert.equal(l.has('d'), true);
    void running;
  });
});
