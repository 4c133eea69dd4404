// created_container / destroyed_container for every way a client's sandbox starts and ends, with its reason.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RsaKeyPair } from '../../../src/crypto/rsa-key-pair.js';
import { AnweddolServer, type AnweddolServerOptions } from '../../../src/server/anweddol-server.js';
import { clientInfo } from '../../../src/server/client-info.js';
import { MemorySessionStore } from '../../../src/server/memory-session-store.js';
import type { CreatedSandboxPayload, DestroyedSandboxPayload } from '../../../src/server/server-events.js';
import type { AnweddolResponse } from '../../../src/server/types.js';
import { FAKE_IMAGE_SHA256, FakeVirtualization } from '../../helpers/fake-virtualization.js';
import { testServerKeyPair } from '../../helpers/test-keys.js';

const CLIENT = clientInfo('127.0.0.1', 40000, 'http', Buffer.alloc(32));

let keyPair: RsaKeyPair;
before(async () => {
  keyPair = await testServerKeyPair();
});
const running: AnweddolServer[] = [];
after(async () => {
  for (const server of running) await server.stop();
});

interface Harness {
  server: AnweddolServer;
  fake: FakeVirtualization;
  created: CreatedSandboxPayload[];
  destroyed: DestroyedSandboxPayload[];
  call(verb: string, parameters?: Record<string, unknown>): Promise<AnweddolResponse>;
}

/** A server whose sandbox events are recorded from before it starts (reconciliation runs in start()). */
async function startServer(options: Partial<AnweddolServerOptions> = {}, fake = new FakeVirtualization()): Promise<Harness> {
  const server = new AnweddolServer({ rsaKeyPair: keyPair, enableTcp: false, virtualization: fake, ...options });
  const created: CreatedSandboxPayload[] = [];
  const destroyed: DestroyedSandboxPayload[] = [];
  server.on('created_container', ({ event: _event, refuse: _refuse, ...payload }) => void created.push(payload));
  server.on('destroyed_container', ({ event: _event, ...payload }) => void destroyed.push(payload));
  await server.start();
  running.push(server);
  return { server, fake, created, destroyed, call: (verb, parameters = {}) => server.dispatch({ verb, parameters }, CLIENT) };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe('created_container', () => {
  it('carries the client, container id, uuid, port, image digest and fl: null, all snake_case', async () => {
    const { call, created, fake } = await startServer();
    const response = await call('CREATE');
    const [id] = fake.sandboxes.keys();
    assert.deepEqual(created, [
      {
        client: CLIENT,
        container_id: id,
        container_uuid: response.data.container_uuid,
        container_listen_port: response.data.container_listen_port,
        container_iso_sha256: FAKE_IMAGE_SHA256,
        container_ip_address: null,
        fl: null,
      },
    ]);
  });
});

describe('destroyed_container', () => {
  it('fires on DESTROY with reason destroy_request, the client and the uuid', async () => {
    const { call, destroyed, fake } = await startServer();
    const { data } = await call('CREATE');
    const [id] = fake.sandboxes.keys();
    await call('DESTROY', { container_uuid: data.container_uuid, client_token: data.client_token });
    assert.deepEqual(destroyed, [{ client: CLIENT, container_id: id, container_uuid: data.container_uuid, reason: 'destroy_request', fl: null }]);
  });

  it('fires when the backend reports the sandbox died or was OOM-killed, with the backend reason', async () => {
    const { call, destroyed, fake } = await startServer();
    const { data } = await call('CREATE');
    const [id] = fake.sandboxes.keys();
    fake.end(id!, 'oom');
    await settle();
    assert.deepEqual(destroyed, [{ client: null, container_id: id, container_uuid: data.container_uuid, reason: 'oom', fl: null }]);
  });

  it('fires with reason reconciled for an orphan sandbox and for a session whose sandbox is gone', async () => {
    const fake = new FakeVirtualization();
    const sessions = new MemorySessionStore();
    fake.adopt({ id: 'orphan', uuid: 'u2', port: 10002 });
    sessions.insert({ createdAt: 0, containerUuidSha256: 'c', clientTokenSha256: 'd', containerId: 'gone', port: 10003, state: 'running' });
    const { destroyed } = await startServer({ sessions }, fake);
    assert.deepEqual(
      destroyed.map((d) => [d.container_id, d.container_uuid, d.reason]),
      [['orphan', 'u2', 'reconciled'], ['gone', null, 'reconciled']],
    );
  });

  it('fires with reason server_stopped for every sandbox the server destroys when it stops', async () => {
    const { server, call, destroyed } = await startServer();
    await call('CREATE');
    await call('CREATE');
    await server.stop();
    assert.deepEqual(destroyed.map((d) => d.reason), ['server_stopped', 'server_stopped']);
  });

  it('names the uuid of a sandbox the server ends itself (stop, expiry), though sessions keep only its hash', async () => {
    const { server, call, destroyed } = await startServer();
    const uuid = (await call('CREATE')).data.container_uuid;
    await server.stop();
    assert.deepEqual(destroyed.map((d) => [d.container_uuid, d.reason]), [[uuid, 'server_stopped']]);
  });

  it('names the uuid of a sandbox kept across a restart when the restarted server ends it', async () => {
    const fake = new FakeVirtualization();
    const sessions = new MemorySessionStore();
    const first = await startServer({ sessions, destroyOnStop: false }, fake);
    const uuid = (await first.call('CREATE')).data.container_uuid;
    await first.server.stop();
    const second = await startServer({ sessions }, fake);
    await second.server.stop();
    assert.deepEqual(second.destroyed.map((d) => [d.container_uuid, d.reason]), [[uuid, 'server_stopped']]);
  });

  it('fires with reason undelivered when a CREATE response never reached its client', async () => {
    const { server, call, destroyed, fake } = await startServer();
    const response = await call('CREATE');
    await server.undoUndelivered(response, CLIENT);
    assert.equal(fake.sandboxes.size, 0);
    assert.deepEqual(destroyed.map((d) => [d.reason, d.container_uuid]), [['undelivered', response.data.container_uuid]]);
  });

  it('fires with reason vetoed after a created_container veto, and the CREATE is refused', async () => {
    const { server, call, created, destroyed, fake } = await startServer();
    server.on('created_container', (ctx) => ctx.refuse('quota'));
    assert.equal((await call('CREATE')).message, 'Refused request (quota)');
    assert.equal(created.length, 1);
    assert.deepEqual(destroyed.map((d) => [d.reason, d.container_id, d.client]), [['vetoed', created[0]!.container_id, CLIENT]]);
    assert.equal(fake.sandboxes.size, 0);
  });

  it('fires with reason vetoed after a container_started veto, which skips created_container', async () => {
    const { server, call, created, destroyed, fake } = await startServer();
    server.on('on_created_endpoint_shell', (ctx) => ctx.refuse('no shell'));
    assert.equal((await call('CREATE')).message, 'Refused request (no shell)');
    assert.equal(created.length, 0);
    assert.deepEqual(destroyed.map((d) => d.reason), ['vetoed']);
    assert.equal(fake.sandboxes.size, 0);
  });

  it('fires once, with the backend reason, for a sandbox that dies while a created_container hook runs and then vetoes', async () => {
    const { server, call, destroyed, fake } = await startServer();
    server.on('created_container', async (ctx) => {
      fake.end(ctx.container_id, 'oom');
      await settle();
      return ctx.refuse('too late anyway');
    });
    assert.equal((await call('CREATE')).message, 'Refused request (too late anyway)');
    assert.deepEqual(destroyed.map((d) => d.reason), ['oom']);
  });

  it('is not fired for a CREATE that failed before its sandbox existed', async () => {
    const { call, destroyed, fake } = await startServer();
    fake.failNextCreate = new Error('boom');
    assert.equal((await call('CREATE')).message, 'Internal error');
    assert.deepEqual(destroyed, []);
  });
});

describe('vetoes the server cannot honour', () => {
  it('counts a refuse() from a destroyed_container handler as a runtime error and still destroys', async () => {
    const { server, call, fake } = await startServer();
    server.on('destroyed_container', (ctx) => (ctx as unknown as { refuse(reason: string): void }).refuse('keep it'));
    const { data } = await call('CREATE');
    const answer = await call('DESTROY', { container_uuid: data.container_uuid, client_token: data.client_token });
    assert.equal(answer.message, 'OK');
    assert.equal(fake.sandboxes.size, 0);
    assert.equal(server.getRuntimeStatistics().runtimeErrors, 1);
  });
});
