import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RsaKeyPair } from '../../../src/crypto/rsa-key-pair.js';
import { sha256Hex } from '../../../src/crypto/hash.js';
import { AnweddolServer, type AnweddolServerOptions } from '../../../src/server/anweddol-server.js';
import { clientInfo } from '../../../src/server/client-info.js';
import { MemorySessionStore } from '../../../src/server/memory-session-store.js';
import type { AnweddolResponse } from '../../../src/server/types.js';
import { FAKE_IMAGE_SHA256, FakeVirtualization } from '../../helpers/fake-virtualization.js';
import { MemoryLogger } from '../../helpers/memory-logger.js';
import { testServerKeyPair } from '../../helpers/test-keys.js';

const CLIENT = clientInfo('127.0.0.1', 40000, 'http', Buffer.alloc(32));

let keyPair: RsaKeyPair;
before(async () => {
  keyPair = await testServerKeyPair();
});

interface Harness {
  server: AnweddolServer;
  virtualization: FakeVirtualization;
  sessions: MemorySessionStore;
  logger: MemoryLogger;
  call(verb: string, parameters?: Record<string, unknown>): Promise<AnweddolResponse>;
}

const running: AnweddolServer[] = [];
after(async () => {
  for (const server of running) await server.stop();
});

async function startServer(options: Partial<AnweddolServerOptions> = {}, fake = new FakeVirtualization()): Promise<Harness> {
  const sessions = (options.sessions as MemorySessionStore | undefined) ?? new MemorySessionStore();
  const logger = new MemoryLogger();
  const server = new AnweddolServer({ rsaKeyPair: keyPair, enableTcp: false, virtualization: fake, sessions, logger, ...options });
  await server.start();
  running.push(server);
  return {
    server,
    virtualization: fake,
    sessions,
    logger,
    call: (verb, parameters = {}) => server.dispatch({ verb, parameters }, CLIENT),
  };
}

function credentials(response: AnweddolResponse): { uuid: string; token: string } {
  return { uuid: response.data.container_uuid as string, token: response.data.client_token as string };
}

describe('STAT', () => {
  it('answers version, whole-second uptime and free slots', async () => {
    const { call } = await startServer({ version: '9.9.9', maxSandboxes: 4 });
    const response = await call('STAT');
    assert.deepEqual(response, { success: true, message: 'OK', data: { version: '9.9.9', uptime: 0, available: 4 } });
  });

  it('answers "nolimit" when there is no sandbox cap', async () => {
    const { call } = await startServer({ maxSandboxes: null });
    assert.equal((await call('STAT')).data.available, 'nolimit');
  });

  it("answers the backend's own free slots (a swarm's max_per_node) when they are fewer", async () => {
    const fake = Object.assign(new FakeVirtualization(), { freeSlots: () => 1 });
    assert.equal((await (await startServer({ maxSandboxes: 4 }, fake)).call('STAT')).data.available, 1);
    assert.equal((await (await startServer({ maxSandboxes: null }, fake)).call('STAT')).data.available, 1);
  });

  it('defaults the version to the package.json version', async () => {
    const { call } = await startServer();
    assert.match((await call('STAT')).data.version as string, /^\d+\.\d+\.\d+/);
  });
});

describe('CREATE', () => {
  it('answers the six keys of docs/protocol.md §2.3 from the sandbox and fresh credentials', async () => {
    const { call, virtualization } = await startServer();
    const response = await call('CREATE');
    assert.equal(response.message, 'OK');
    const d = response.data;
    assert.match(d.container_uuid as string, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(d.client_token as string, /^[0-9a-zA-Z_-]{255}$/);
    assert.equal(d.container_iso_sha256, FAKE_IMAGE_SHA256);
    assert.match(d.container_username as string, /^user_\d{5}$/);
    assert.match(d.container_password as string, /^[a-zA-Z0-9]{120}$/);
    const [sandbox] = [...virtualization.sandboxes.values()];
    assert.equal(d.container_listen_port, sandbox!.port);
    const spec = virtualization.specs.get(sandbox!.id)!;
    assert.deepEqual([spec.uuid, spec.username, spec.password], [d.container_uuid, d.container_username, d.container_password]);
  });

  it('stores only the sha256 of the uuid and the token', async () => {
    const { call, sessions } = await startServer();
    const { uuid, token } = credentials(await call('CREATE'));
    const [row] = sessions.list();
    assert.equal(row!.containerUuidSha256, sha256Hex(uuid));
    assert.equal(row!.clientTokenSha256, sha256Hex(token));
    const stored = JSON.stringify(sessions.list());
    assert.ok(!stored.includes(uuid) && !stored.includes(token));
  });

  it('answers Unavailable (no virtualization backend) without a backend', async () => {
    const server = new AnweddolServer({ rsaKeyPair: keyPair, enableTcp: false });
    await server.start();
    running.push(server);
    const response = await server.dispatch({ verb: 'CREATE', parameters: {} }, CLIENT);
    assert.equal(response.message, 'Unavailable (no virtualization backend)');
  });

  it('never lets concurrent CREATEs exceed the cap, counting creations in flight', async () => {
    const { call, virtualization } = await startServer({ maxSandboxes: 3 }, new FakeVirtualization({ createDelayMs: 30 }));
    const responses = await Promise.all(Array.from({ length: 10 }, () => call('CREATE')));
    assert.equal(responses.filter((r) => r.success).length, 3);
    assert.equal(responses.filter((r) => r.message.startsWith('Unavailable')).length, 7);
    assert.equal(virtualization.sandboxes.size, 3);
    assert.equal((await call('STAT')).data.available, 0);
  });

  it('frees the slot and keeps no session when the backend fails', async () => {
    const { call, virtualization, sessions } = await startServer({ maxSandboxes: 1 });
    virtualization.failNextCreate = new Error('boom');
    const failed = await call('CREATE');
    assert.equal(failed.message, 'Internal error');
    assert.equal(sessions.count(), 0);
    assert.equal((await call('CREATE')).message, 'OK');
  });

  it('passes a backend Unavailable through to the client', async () => {
    const { call, virtualization } = await startServer();
    virtualization.available = false;
    assert.match((await call('CREATE')).message, /^Unavailable/);
  });

  it('destroys the sandbox and answers Refused request when created_container vetoes', async () => {
    const { server, call, virtualization, sessions } = await startServer();
    server.on('created_container', (ctx) => ctx.refuse('quota'));
    const response = await call('CREATE');
    assert.deepEqual(response, { success: false, message: 'Refused request (quota)', data: {} });
    assert.equal(virtualization.sandboxes.size, 0);
    assert.equal(virtualization.destroyed.length, 1);
    assert.equal(sessions.count(), 0);
  });

  it('emits container_started and created_container (also under the alias container_created)', async () => {
    const { server, call } = await startServer();
    const seen: string[] = [];
    server.on('container_started', (ctx) => void seen.push(`started ${ctx.container_listen_port}`));
    server.on('container_created', (ctx) => void seen.push(`created ${String(ctx.container_uuid)}`));
    const { uuid } = credentials(await call('CREATE'));
    assert.equal(seen.length, 2);
    assert.equal(seen[1], `created ${uuid}`);
  });
});

describe('DESTROY', () => {
  it('destroys the sandbox when uuid and token match, and forgets the session', async () => {
    const { server, call, virtualization, sessions } = await startServer();
    const destroyed: string[] = [];
    server.on('destroyed_container', (ctx) => void destroyed.push(ctx.container_id));
    const { uuid, token } = credentials(await call('CREATE'));
    assert.deepEqual(await call('DESTROY', { container_uuid: uuid, client_token: token }), { success: true, message: 'OK', data: {} });
    assert.equal(virtualization.sandboxes.size, 0);
    assert.equal(sessions.count(), 0);
    assert.equal(destroyed.length, 1);
  });

  it('refuses DESTROY when the token belongs to another sandbox', async () => {
    const { server, call, virtualization } = await startServer();
    let authErrors = 0;
    server.on('authentication_error', () => void authErrors++);
    const a = credentials(await call('CREATE'));
    const b = credentials(await call('CREATE'));
    const response = await call('DESTROY', { container_uuid: a.uuid, client_token: b.token });
    assert.equal(response.message, 'Bad authentication');
    assert.equal(virtualization.sandboxes.size, 2);
    assert.equal(authErrors, 1);
  });

  it('refuses DESTROY of an unknown uuid and a second DESTROY of the same sandbox', async () => {
    const { call } = await startServer();
    const { uuid, token } = credentials(await call('CREATE'));
    assert.equal((await call('DESTROY', { container_uuid: '00000000-0000-4000-8000-000000000000', client_token: token })).message, 'Bad authentication');
    assert.equal((await call('DESTROY', { container_uuid: uuid, client_token: token })).message, 'OK');
    assert.equal((await call('DESTROY', { container_uuid: uuid, client_token: token })).message, 'Bad authentication');
  });

  it('keeps the session when the backend fails to destroy', async () => {
    const { call, virtualization, sessions } = await startServer();
    const { uuid, token } = credentials(await call('CREATE'));
    virtualization.failNextDestroy = new Error('docker down');
    assert.equal((await call('DESTROY', { container_uuid: uuid, client_token: token })).message, 'Internal error');
    assert.equal(sessions.count(), 1);
    assert.equal((await call('DESTROY', { container_uuid: uuid, client_token: token })).message, 'OK');
  });

  it('requires both container_uuid and client_token', async () => {
    const { call } = await startServer();
    assert.equal((await call('DESTROY', {})).message, 'Bad request (Missing container_uuid)');
  });
});

describe('sandbox lifecycle', () => {
  it('forgets the session and emits destroyed_container when a sandbox ends behind our back', async () => {
    const { server, call, virtualization, sessions } = await startServer({ maxSandboxes: 1 });
    const stopped: string[] = [];
    server.on('destroyed_container', (ctx) => void stopped.push(ctx.reason));
    await call('CREATE');
    const [id] = virtualization.sandboxes.keys();
    virtualization.end(id!, 'oom');
    await new Promise((r) => setImmediate(r));
    assert.equal(sessions.count(), 0);
    assert.deepEqual(stopped, ['oom']);
    assert.equal((await call('STAT')).data.available, 1);
  });

  it('reconciles on start: orphan sandboxes destroyed, stale sessions removed', async () => {
    const fake = new FakeVirtualization();
    const sessions = new MemorySessionStore();
    const kept = fake.adopt({ id: 'kept', uuid: 'u1', port: 10001 });
    fake.adopt({ id: 'orphan', uuid: 'u2', port: 10002 });
    sessions.insert({ createdAt: Date.now() - 1000, containerUuidSha256: 'a', clientTokenSha256: 'b', containerId: kept.id, port: 10001, state: 'running' });
    sessions.insert({ createdAt: Date.now() - 1000, containerUuidSha256: 'c', clientTokenSha256: 'd', containerId: 'gone', port: 10003, state: 'running' });
    await startServer({ sessions }, fake);
    assert.equal(fake.startCalls, 1);
    assert.deepEqual([...fake.sandboxes.keys()], ['kept']);
    assert.deepEqual(fake.destroyed, ['orphan']);
    assert.deepEqual(sessions.list().map((s) => s.containerId), ['kept']);
  });

  it('reconciles when a backend that was down at start comes back', async () => {
    const fake = new FakeVirtualization();
    fake.available = false;
    fake.adopt({ id: 'orphan', uuid: 'u', port: 10001 });
    await startServer({}, fake);
    assert.equal(fake.sandboxes.size, 1);
    fake.setAvailable(true);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(fake.destroyed, ['orphan']);
  });

  it('leaves a sandbox alone on reconciliation while an FL slot is held for it', async () => {
    const fake = new FakeVirtualization();
    const { server } = await startServer({}, fake);
    const slot = server.reserveSandboxSlot('held')!;
    fake.adopt({ id: 'fl-client', uuid: 'held', port: 10001 });
    fake.setAvailable(false);
    fake.setAvailable(true);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(fake.destroyed, []);
    slot.release();
    fake.setAvailable(false);
    fake.setAvailable(true);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(fake.destroyed, ['fl-client']);
  });

  it('does not take a sandbox whose CREATE is in flight for an orphan when the backend recovers', async () => {
    const fake = new FakeVirtualization({ createDelayMs: 50, listedWhileCreating: true });
    const { call } = await startServer({}, fake);
    const created = call('CREATE');
    await new Promise((r) => setTimeout(r, 20));
    // The container exists, the session row does not yet: a reconcile now must keep it.
    fake.setAvailable(false);
    fake.setAvailable(true);
    const response = await created;
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(response.success, true);
    assert.deepEqual(fake.destroyed, []);
  });

  it('keeps the session of a CREATE that completes while a reconciliation lists the sandboxes', async () => {
    const fake = new FakeVirtualization({ createDelayMs: 20, listedWhileCreating: false });
    const { call, sessions } = await startServer({}, fake);
    const realList = fake.list.bind(fake);
    // The list reflects the moment it was asked for, and answers after the CREATE has finished.
    fake.list = async () => {
      const snapshot = await realList();
      await new Promise((r) => setTimeout(r, 60));
      return snapshot;
    };
    const created = call('CREATE');
    fake.setAvailable(false);
    fake.setAvailable(true);
    assert.equal((await created).success, true);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(sessions.count(), 1);
    assert.deepEqual(fake.destroyed, []);
  });

  it('finishes on start a DESTROY that a crash cut short', async () => {
    const fake = new FakeVirtualization();
    const sessions = new MemorySessionStore();
    const half = fake.adopt({ id: 'half-destroyed', uuid: 'u1', port: 10001 });
    sessions.insert({ createdAt: 0, containerUuidSha256: 'a', clientTokenSha256: 'b', containerId: half.id, port: 10001, state: 'destroying' });
    const { call } = await startServer({ sessions, maxSandboxes: 1 }, fake);
    assert.deepEqual(fake.destroyed, ['half-destroyed']);
    assert.equal(sessions.count(), 0);
    assert.equal((await call('STAT')).data.available, 1);
  });

  it('answers Unavailable and frees the slot when a sandbox creation outlives its bound', async () => {
    const fake = new FakeVirtualization({ createDelayMs: 300 });
    const { call } = await startServer({ createTimeoutMs: 50, maxSandboxes: 1 }, fake);
    const response = await call('CREATE');
    assert.equal(response.message, 'Unavailable (sandbox creation timed out)');
    assert.equal((await call('STAT')).data.available, 1);
  });

  it('emits runtime_error when an event handler throws', async () => {
    const { server, call } = await startServer();
    const sources: string[] = [];
    server.on('runtime_error', (ctx) => void sources.push(ctx.source));
    server.on('request', () => {
      throw new Error('bad hook');
    });
    await call('STAT');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sources, ['event handler request']);
  });

  it('counts but does not loop on a throwing runtime_error handler', async () => {
    const { server, call } = await startServer();
    server.on('runtime_error', () => {
      throw new Error('handler of handlers');
    });
    server.setRequestHandler('CRASH', () => {
      throw new Error('x');
    });
    await call('CRASH');
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(server.getRuntimeStatistics().runtimeErrors, 2);
  });

  it('destroys owned sandboxes and closes the backend on stop', async () => {
    const { server, call, virtualization, sessions } = await startServer();
    await call('CREATE');
    await call('CREATE');
    await server.stop();
    assert.equal(virtualization.sandboxes.size, 0);
    assert.equal(sessions.count(), 0);
    assert.equal(virtualization.closeCalls, 1);
    assert.equal(server.getRuntimeStatistics().isRunning, false);
  });

  it('leaves sandboxes running on stop when destroyOnStop is false', async () => {
    const { server, call, virtualization } = await startServer({ destroyOnStop: false });
    await call('CREATE');
    await server.stop();
    assert.equal(virtualization.sandboxes.size, 1);
  });
});

describe('request chain', () => {
  it('answers Bad request (Unhandled verb) and emits unhandled_verb', async () => {
    const { server, call } = await startServer();
    const verbs: string[] = [];
    server.on('unhandled_verb', (ctx) => void verbs.push(ctx.request.verb));
    assert.equal((await call('HELLO')).message, 'Bad request (Unhandled verb)');
    assert.deepEqual(verbs, ['HELLO']);
  });

  it('runs a custom verb registered with setRequestHandler', async () => {
    const { server, call } = await startServer();
    server.setRequestHandler('HELLO', async (request, ctx) => ({ success: true, message: 'OK', data: { to: ctx.client.id, echo: request.parameters.x } }));
    assert.deepEqual(await call('HELLO', { x: 1 }), { success: true, message: 'OK', data: { to: CLIENT.id, echo: 1 } });
  });

  it('answers Internal error when a handler throws, counts it, and keeps serving', async () => {
    const { server, call, logger } = await startServer();
    server.setRequestHandler('CRASH', () => {
      throw new Error('kaboom');
    });
    assert.deepEqual(await call('CRASH'), { success: false, message: 'Internal error', data: {} });
    assert.equal(server.getRuntimeStatistics().runtimeErrors, 1);
    assert.match(logger.text(), /runtime error in handler CRASH: Error: kaboom/);
    assert.equal((await call('STAT')).message, 'OK');
  });

  it('answers Internal error and logs when a handler returns a malformed response', async () => {
    const { server, call, logger } = await startServer();
    server.setRequestHandler('SLOPPY', () => ({ success: true, message: 'Fine', data: {} }));
    server.setRequestHandler('HALF', () => ({ success: true, message: 'OK' }) as never);
    assert.equal((await call('SLOPPY')).message, 'Internal error');
    assert.equal((await call('HALF')).message, 'Internal error');
    assert.match(logger.text(), /malformed response/);
  });

  it('validates the data of built-in verbs it answers (a STAT override missing uptime fails)', async () => {
    const { server, call } = await startServer();
    server.setRequestHandler('STAT', () => ({ success: true, message: 'OK', data: { version: '1' } }));
    assert.equal((await call('STAT')).message, 'Internal error');
  });

  it('counts a throwing event handler as a runtime error and still answers', async () => {
    const { server, call } = await startServer();
    server.on('request', () => {
      throw new Error('hook bug');
    });
    assert.equal((await call('STAT')).message, 'OK');
    assert.equal(server.getRuntimeStatistics().runtimeErrors, 1);
  });

  it('answers Refused request (reason) when a request hook vetoes', async () => {
    const { server, call } = await startServer();
    server.on('request', async (ctx) => ctx.refuse('maintenance'));
    assert.equal((await call('STAT')).message, 'Refused request (maintenance)');
  });

  it('rejects malformed requests with Bad request and emits malformed_request', async () => {
    const { server } = await startServer();
    const reasons: string[] = [];
    server.on('malformed_request', (ctx) => void reasons.push(ctx.reason));
    const uuid = '6f1c0a8e-1b2c-4d3e-8f40-0123456789ab';
    const bad: unknown[] = [
      { verb: 'stat', parameters: {} },
      { verb: 'STAT' },
      { verb: 'DESTROY', parameters: { container_uuid: uuid } },
      { verb: 'DESTROY', parameters: { container_uuid: uuid, client_token: 'a'.repeat(254) } },
      { verb: 'DESTROY', parameters: { container_uuid: uuid.toUpperCase(), client_token: 'a'.repeat(255) } },
      { verb: 'STAT', parameters: { access_token: 42 } },
      { verb: 'STAT', parameters: [] },
      'STAT',
    ];
    for (const request of bad) {
      const response = await server.dispatch(request, CLIENT);
      assert.equal(response.success, false);
      assert.match(response.message, /^Bad request \(.+\)$/, JSON.stringify(request));
    }
    assert.equal(reasons.length, bad.length);
  });

  it('accepts unknown keys in the request and in parameters', async () => {
    const { server } = await startServer();
    const response = await server.dispatch({ verb: 'STAT', parameters: { extra: true }, note: 'x' }, CLIENT);
    assert.equal(response.message, 'OK');
  });

  it('requires a valid access token when tokens are enabled', async () => {
    const { server, call } = await startServer({ accessTokens: { verify: (t) => t === 'good' } });
    const authErrors: string[] = [];
    server.on('authentication_error', (ctx) => void authErrors.push(ctx.response.message));
    assert.equal((await call('STAT')).message, 'Bad request (Access token is required)');
    assert.equal((await call('STAT', { access_token: 'bad' })).message, 'Bad authentication (Invalid access token)');
    assert.equal((await call('STAT', { access_token: 'good' })).message, 'OK');
    assert.deepEqual(authErrors, ['Bad authentication (Invalid access token)']);
  });

  it('never writes tokens or passwords to the log', async () => {
    const { call, logger } = await startServer({ accessTokens: { verify: (t) => t === 'good-secret-token' } });
    const response = await call('CREATE', { access_token: 'good-secret-token' });
    const { uuid, token } = credentials(response);
    await call('DESTROY', { access_token: 'good-secret-token', container_uuid: uuid, client_token: token.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) });
    await call('STAT', { access_token: 'wrong-secret-token' });
    const text = logger.text();
    for (const secret of [token, response.data.container_password as string, 'good-secret-token', 'wrong-secret-token']) assert.ok(!text.includes(secret));
  });
});

describe('server API', () => {
  it('delivers arbitrary events through emitEvent, with vetoes when emitted as vetoable', async () => {
    const { server } = await startServer();
    const seen: unknown[] = [];
    server.on('plugin_round_started', (ctx) => {
      seen.push(ctx.round);
      return ctx.refuse?.('not now');
    });
    assert.deepEqual(await server.emitEvent('plugin_round_started', { round: 3 }, { vetoable: true }), { refused: true, reason: 'not now' });
    assert.deepEqual(seen, [3]);
  });

  it('starts and stops registered transports with the server', async () => {
    const calls: string[] = [];
    const server = new AnweddolServer({ rsaKeyPair: keyPair, enableTcp: false });
    server.addTransport({ start: async () => void calls.push('start'), stop: async () => void calls.push('stop') });
    await server.start();
    await server.stop();
    assert.deepEqual(calls, ['start', 'stop']);
  });

  it('applies the ip filter through isAllowed', () => {
    const server = new AnweddolServer({ rsaKeyPair: keyPair, enableTcp: false, ipFilter: (a) => a === '10.0.0.1' });
    assert.equal(server.isAllowed('10.0.0.1'), true);
    assert.equal(server.isAllowed('10.0.0.2'), false);
  });

  it('emits server_started and server_stopped', async () => {
    const events: string[] = [];
    const server = new AnweddolServer({ rsaKeyPair: keyPair, enableTcp: false });
    server.on('server_started', () => void events.push('started'));
    server.on('server_stopped', () => void events.push('stopped'));
    await server.start();
    await server.stop();
    assert.deepEqual(events, ['started', 'stopped']);
  });

  it('rejects nonsensical options at construction', () => {
    assert.throws(() => new AnweddolServer({ rsaKeyPair: keyPair, timeoutSeconds: 0 }), RangeError);
    assert.throws(() => new AnweddolServer({ rsaKeyPair: keyPair, maxConnections: 0 }), RangeError);
    assert.throws(() => new AnweddolServer({ rsaKeyPair: keyPair, maxSandboxes: -1 }), RangeError);
  });
});

describe('failed start', () => {
  it('leaves sandboxes alone and stays stopped when the TCP port is taken', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const fake = new FakeVirtualization();
    const sessions = new MemorySessionStore();
    const sandbox = fake.adopt({ id: 'live', uuid: 'u', port: 10001 });
    sessions.insert({ createdAt: 0, containerUuidSha256: 'a', clientTokenSha256: 'b', containerId: sandbox.id, port: 10001, state: 'running' });
    const server = new AnweddolServer({ rsaKeyPair: keyPair, bindAddress: '127.0.0.1', listenPort: port, virtualization: fake, sessions });
    try {
      await assert.rejects(server.start(), /EADDRINUSE/);
      assert.equal(fake.sandboxes.size, 1);
      assert.equal(sessions.count(), 1);
      assert.equal(server.getRuntimeStatistics().isRunning, false);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
