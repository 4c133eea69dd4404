import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminChannel, AdminError, AdminRouter, adminRequest, AdminRequestError } from '../../../src/daemon/admin-channel.js';

function rawExchange(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let received = '';
    socket.on('data', (c: Buffer) => {
      received += c.toString('utf8');
      if (received.endsWith('\n')) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('error', reject);
    socket.write(text);
  });
}

describe('admin channel', () => {
  let dir: string;
  let path: string;
  let channel: AdminChannel;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'anweddol-admin-'));
    path = join(dir, 'run', 'admin.sock');
    const router = new AdminRouter()
      .register('echo', (params) => params)
      .register('refuse', () => {
        throw new AdminError('not allowed');
      })
      .register('crash', () => {
        throw new Error('secret detail');
      })
      .register('progress', async (params, ctx) => {
        for (let i = 1; i <= Number(params.steps); i++) ctx.notify({ step: i });
        return { done: true };
      });
    channel = new AdminChannel(path, router);
    await channel.start();
  });
  after(async () => {
    await channel.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates its socket with mode 0600', () => {
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  it('answers a method with its result', async () => {
    assert.deepEqual(await adminRequest(path, 'echo', { a: 1 }), { a: 1 });
  });

  it('streams progress events before the result', async () => {
    const events: unknown[] = [];
    const result = await adminRequest(path, 'progress', { steps: 3 }, { onEvent: (e) => events.push(e) });
    assert.deepEqual(events, [{ step: 1 }, { step: 2 }, { step: 3 }]);
    assert.deepEqual(result, { done: true });
  });

  it('reports an unknown method', async () => {
    await assert.rejects(adminRequest(path, 'nope'), /unknown admin method "nope"/);
  });

  it('passes an AdminError message through and hides other failures', async () => {
    await assert.rejects(adminRequest(path, 'refuse'), /^AdminRequestError: not allowed$/);
    await assert.rejects(adminRequest(path, 'crash'), (error: Error) => error.message === 'internal error in crash');
  });

  it('answers a malformed line and keeps serving', async () => {
    assert.deepEqual(JSON.parse(await rawExchange(path, 'not json\n')), { id: null, ok: false, error: 'malformed request line' });
    assert.deepEqual(await adminRequest(path, 'echo', {}), {});
  });

  it('says so when no daemon listens', async () => {
    await assert.rejects(adminRequest(join(dir, 'absent.sock'), 'echo'), (error: unknown) => error instanceof AdminRequestError && error.unreachable);
  });

  it('refuses to start on a socket a live daemon answers on', async () => {
    const second = new AdminChannel(path, new AdminRouter());
    await assert.rejects(second.start(), /another daemon answers/);
  });

  it('replaces a stale socket file left by a dead daemon', async () => {
    const stale = join(dir, 'stale.sock');
    writeFileSync(stale, '');
    const fresh = new AdminChannel(stale, new AdminRouter().register('ping', () => 'pong'));
    await fresh.start();
    try {
      assert.equal(await adminRequest(stale, 'ping'), 'pong');
    } finally {
      await fresh.stop();
    }
    assert.equal(existsSync(stale), false);
  });

  it('rejects a method registered twice', () => {
    assert.throws(() => new AdminRouter().register('a', () => 1).register('a', () => 2), /registered twice/);
  });
});
