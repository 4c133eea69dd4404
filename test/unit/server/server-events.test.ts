import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANWEDDOL_CALLBACKS, IgnoredVetoError, ServerEvents, canonicalEventName, type Refusal } from '../../../src/server/server-events.js';

function recordingEvents(): { events: ServerEvents; failures: Array<{ event: string; error: unknown }> } {
  const failures: Array<{ event: string; error: unknown }> = [];
  return { events: new ServerEvents((event, error) => failures.push({ event, error })), failures };
}

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

  it('keeps the first refusal of a vetoable event but still runs every handler', async () => {
    let ran = 0;
    const events = new ServerEvents(() => {});
    events.on('created_container', (ctx) => ctx.refuse('first'));
    events.on('created_container', (ctx) => {
      ran++;
      ctx.refuse('second');
    });
    const outcome = await events.emit('created_container', {} as never);
    assert.equal(outcome.refusal?.reason, 'first');
    assert.equal(ran, 1);
  });

  it('reports a throwing handler and goes on with the next one', async () => {
    const { events, failures } = recordingEvents();
    let after = false;
    events.on('x', () => {
      throw new Error('bug');
    });
    events.on('x', () => void (after = true));
    assert.equal((await events.emit('x', {})).refusal, undefined);
    assert.deepEqual(failures.map((f) => f.event), ['x']);
    assert.equal(after, true);
  });

  it('treats container_created as an alias of created_container', async () => {
    const events = new ServerEvents(() => {});
    let calls = 0;
    events.on('container_created', () => void calls++);
    await events.emit('created_container', {} as never);
    await events.emit('container_created', {});
    assert.equal(calls, 2);
  });

  it('passes the payload fields and the canonical event name to the handler context', async () => {
    const events = new ServerEvents(() => {});
    let seen: unknown[] = [];
    events.on('on_created_container', (ctx) => void (seen = [ctx.event, ctx.container_id]));
    await events.emit('created_container', { container_id: 'c1' } as never);
    assert.deepEqual(seen, ['created_container', 'c1']);
  });
});

describe('Anweddol callback names', () => {
  it('maps each of the twelve Anweddol 4.x callbacks to one of our events', () => {
    assert.deepEqual(Object.keys(ANWEDDOL_CALLBACKS).sort(), [
      'on_client', 'on_client_closed', 'on_connection', 'on_created_container', 'on_created_endpoint_shell', 'on_destroyed_container',
      'on_malformed_request', 'on_request', 'on_runtime_error', 'on_started', 'on_stopped', 'on_unknown_verb',
    ]);
    assert.equal(canonicalEventName('on_unknown_verb'), 'unhandled_verb');
    assert.equal(canonicalEventName('on_started'), 'server_started');
  });

  it('accepts the on_<event> spelling of our own names and of Anweddol 5 (on_container_created)', () => {
    assert.equal(canonicalEventName('on_server_stopped'), 'server_stopped');
    assert.equal(canonicalEventName('on_container_created'), 'created_container');
  });

  it('delivers an event to a handler registered under its Anweddol name, and off() with that name removes it', async () => {
    const events = new ServerEvents(() => {});
    let calls = 0;
    const handler = () => void calls++;
    events.on('on_destroyed_container', handler);
    await events.emit('destroyed_container', {} as never);
    events.off('on_destroyed_container', handler);
    await events.emit('destroyed_container', {} as never);
    assert.equal(calls, 1);
  });
});

describe('vetoes', () => {
  it('gives ctx.refuse to vetoable events only', async () => {
    const events = new ServerEvents(() => {});
    const has: Record<string, boolean> = {};
    for (const name of ['created_container', 'container_started', 'request', 'destroyed_container', 'client_closed', 'server_started']) {
      events.on(name, (ctx) => void (has[name] = 'refuse' in ctx));
      await events.emit(name, {});
    }
    assert.deepEqual(has, {
      created_container: true, container_started: true, request: true,
      destroyed_container: false, client_closed: false, server_started: false,
    });
  });

  it('counts calling refuse on an event that cannot veto as an IgnoredVetoError, and nothing is refused', async () => {
    const { events, failures } = recordingEvents();
    events.on('destroyed_container', (ctx) => (ctx as unknown as { refuse(reason: string): void }).refuse('no'));
    assert.equal((await events.emit('destroyed_container', {} as never)).refusal, undefined);
    assert.equal(failures.length, 1);
    assert.ok(failures[0]!.error instanceof IgnoredVetoError, String(failures[0]!.error));
    assert.match((failures[0]!.error as Error).message, /destroyed_container cannot be vetoed/);
  });

  it('counts returning a refusal from a handler of an event that cannot veto', async () => {
    const { events, failures } = recordingEvents();
    const refusal: Refusal = { refused: true, reason: 'no' };
    events.on('client_closed', () => refusal);
    assert.equal((await events.emit('client_closed', {} as never)).refusal, undefined);
    assert.ok(failures[0]?.error instanceof IgnoredVetoError);
  });

  it('counts a refuse() that comes after the event was decided', async () => {
    const { events, failures } = recordingEvents();
    let kept: { refuse(reason?: string): Refusal } | undefined;
    events.on('request', (ctx) => void (kept = ctx));
    assert.equal((await events.emit('request', {} as never)).refusal, undefined);
    kept!.refuse('too late');
    assert.equal(failures.length, 1);
    assert.match((failures[0]!.error as Error).message, /already decided/);
  });

  it('makes a custom event vetoable only when emitted as such', async () => {
    const events = new ServerEvents(() => {});
    events.on('plugin_event', (ctx) => ctx.refuse?.('no'));
    assert.equal((await events.emit('plugin_event', {})).refusal, undefined);
    assert.equal((await events.emit('plugin_event', {}, true)).refusal?.reason, 'no');
  });

  it('keeps a built-in event non-vetoable even when emitted as vetoable', async () => {
    const events = new ServerEvents(() => {});
    let has = true;
    events.on('destroyed_container', (ctx) => void (has = 'refuse' in ctx));
    await events.emit('destroyed_container', {}, true);
    assert.equal(has, false);
  });
});
