import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerEvents } from '../../../src/server/server-events.js';

describe('ServerEvents', () => {
  it('runs handlers in registration order and awaits async ones', async () => {
    const order: number[] = [];
    const events = new ServerEvents(() => {});
    events.on('x', async () => {
      await new Promise((r) => setTimeout(r, 10));
      order.push(1);
    });
    events.on('x', () => void order.push(2));
    await events.emit('x', {});
    assert.deepEqual(order, [1, 2]);
  });

  it('keeps the first refusal but still runs every handler', async () => {
    let ran = 0;
    const events = new ServerEvents(() => {});
    events.on('x', (ctx) => ctx.refuse('first'));
    events.on('x', (ctx) => {
      ran++;
      ctx.refuse('second');
    });
    const outcome = await events.emit('x', {});
    assert.equal(outcome.refusal?.reason, 'first');
    assert.equal(ran, 1);
  });

  it('reports a throwing handler and goes on with the next one', async () => {
    const failures: string[] = [];
    const events = new ServerEvents((event) => failures.push(event));
    let after = false;
    events.on('x', () => {
      throw new Error('bug');
    });
    events.on('x', () => void (after = true));
    assert.equal((await events.emit('x', {})).refusal, undefined);
    assert.deepEqual(failures, ['x']);
    assert.equal(after, true);
  });

  it('treats container_created as an alias of created_container', async () => {
    const events = new ServerEvents(() => {});
    let calls = 0;
    events.on('container_created', () => void calls++);
    await events.emit('created_container', {});
    await events.emit('container_created', {});
    assert.equal(calls, 2);
  });

  it('passes the payload fields to the handler context', async () => {
    const events = new ServerEvents(() => {});
    let seen: unknown;
    events.on('fl_round', (ctx) => void (seen = ctx.round));
    await events.emit('fl_round', { round: 7 });
    assert.equal(seen, 7);
  });
});
