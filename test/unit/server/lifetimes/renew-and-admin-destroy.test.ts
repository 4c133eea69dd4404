import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { generateClientToken } from '../../../../src/crypto/tokens.js';
import { credentialsOf, startFakeServer, TEST_CLIENT, testClient, type FakeServer } from '../../../helpers/fake-server.js';

let current: FakeServer | undefined;
afterEach(async () => {
  await current?.stop();
  current = undefined;
});

async function start(...args: Parameters<typeof startFakeServer>): Promise<FakeServer> {
  current = await startFakeServer(...args);
  return current;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('CREATE with lifetimes', () => {
  it('answers expires_at, max_lifetime from now in Unix seconds', async () => {
    const { call } = await start({ maxLifetimeSeconds: 600 });
    const before = nowSeconds();
    const created = await call('CREATE');
    assert.equal(created.message, 'OK');
    const expiresAt = created.data.expires_at as number;
    assert.ok(expiresAt >= before + 599 && expiresAt <= nowSeconds() + 600, String(expiresAt - before));
  });

  it('answers expires_at null when max_lifetime is null', async () => {
    const { call } = await start({ maxLifetimeSeconds: null });
    assert.equal((await call('CREATE')).data.expires_at, null);
  });

  it('records the creating client and the deadline in the session', async () => {
    const { call, sessions } = await start({ maxLifetimeSeconds: 600 });
    const created = await call('CREATE');
    const [session] = sessions.list();
    assert.equal(session?.clientId, TEST_CLIENT.id);
    assert.equal(Math.floor(session!.expiresAt! / 1000), created.data.expires_at);
  });
});

describe('RENEW', () => {
  it('extends the deadline to max_lifetime from now', async () => {
    const { call, sessions } = await start({ maxLifetimeSeconds: 600, maxRenewedLifetimeSeconds: 3600 });
    const created = await call('CREATE');
    sessions.setExpiresAt(sessions.list()[0]!.id, Date.now() + 10_000);
    const renewed = await call('RENEW', credentialsOf(created));
    assert.equal(renewed.message, 'OK');
    assert.ok((renewed.data.expires_at as number) >= nowSeconds() + 599);
  });

  it('never extends beyond max_renewed_lifetime from creation', async () => {
    // With the cap equal to the lifetime, any renewal asks for more than the cap allows.
    const { call, sessions } = await start({ maxLifetimeSeconds: 600, maxRenewedLifetimeSeconds: 600 });
    const created = await call('CREATE');
    const createdAt = sessions.list()[0]!.createdAt;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const renewed = await call('RENEW', credentialsOf(created));
    assert.equal(renewed.message, 'OK');
    assert.equal(renewed.data.expires_at, Math.floor((createdAt + 600_000) / 1000));
    assert.equal(sessions.list()[0]?.expiresAt, createdAt + 600_000);
  });

  it('answers Bad authentication for a token of another sandbox, and changes nothing', async () => {
    const { call, sessions } = await start({ maxLifetimeSeconds: 600 });
    const a = await call('CREATE');
    const b = await call('CREATE');
    const before = sessions.list().map((s) => s.expiresAt);
    const response = await call('RENEW', { container_uuid: credentialsOf(a).container_uuid, client_token: credentialsOf(b).client_token });
    assert.deepEqual(response, { success: false, message: 'Bad authentication', data: {} });
    assert.deepEqual(sessions.list().map((s) => s.expiresAt), before);
  });

  it('answers Bad authentication for an unknown uuid', async () => {
    const { call } = await start();
    const response = await call('RENEW', { container_uuid: '6f1c0a8e-1b2c-4d3e-8f40-0123456789ab', client_token: generateClientToken() });
    assert.equal(response.message, 'Bad authentication');
  });

  it('answers Bad request without both credentials', async () => {
    const { call } = await start();
    assert.equal((await call('RENEW', {})).message, 'Bad request (Missing container_uuid)');
  });
});

describe('expiry through the server', () => {
  it('destroys an expired sandbox, frees its slot and emits destroyed_container with reason "expired"', async () => {
    const { call, server, virtualization } = await start({ maxLifetimeSeconds: 1, maxRenewedLifetimeSeconds: null, maxSandboxes: 2 });
    const destroyed: Array<{ reason: string; client: unknown }> = [];
    server.on('destroyed_container', (ctx) => void destroyed.push({ reason: ctx.reason, client: ctx.client }));
    await call('CREATE');
    assert.equal((await call('STAT')).data.available, 1);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.deepEqual(destroyed, [{ reason: 'expired', client: null }]);
    assert.equal(virtualization.sandboxes.size, 0);
    assert.equal((await call('STAT')).data.available, 2);
  });

  it('tags a client DESTROY with reason "destroy_request"', async () => {
    const { call, server } = await start();
    const reasons: string[] = [];
    server.on('destroyed_container', (ctx) => void reasons.push(ctx.reason));
    const created = await call('CREATE');
    await call('DESTROY', credentialsOf(created));
    assert.deepEqual(reasons, ['destroy_request']);
  });
});

describe('admin destroy', () => {
  it('destroys one sandbox by the uuid its client got, and nothing else', async () => {
    const { call, server, sessions } = await start();
    const a = await call('CREATE');
    await call('CREATE');
    const outcome = await server.destroySandboxes({ uuid: credentialsOf(a).container_uuid });
    assert.equal(outcome.destroyed.length, 1);
    assert.equal(outcome.destroyed[0]?.reason, 'admin');
    assert.equal(sessions.count(), 1);
    assert.equal((await call('DESTROY', credentialsOf(a))).message, 'Bad authentication');
  });

  it('destroys every sandbox of one client', async () => {
    const { call, server, sessions } = await start();
    const other = testClient('127.0.0.2');
    await call('CREATE');
    await call('CREATE');
    await call('CREATE', {}, other);
    const outcome = await server.destroySandboxes({ clientId: TEST_CLIENT.id });
    assert.equal(outcome.destroyed.length, 2);
    assert.deepEqual(sessions.list().map((s) => s.clientId), [other.id]);
  });

  it('destroys only the sandboxes past their deadline with --expired', async () => {
    const { call, server, sessions } = await start();
    await call('CREATE');
    await call('CREATE');
    const [first] = sessions.list();
    sessions.setExpiresAt(first!.id, Date.now() - 1);
    const outcome = await server.destroySandboxes({ expired: true });
    assert.deepEqual(outcome.destroyed.map((d) => [d.sessionId, d.reason]), [[first!.id, 'expired']]);
    assert.equal(sessions.count(), 1);
  });

  it('destroys every client sandbox with --all, and reports a failure without hiding the others', async () => {
    const { call, server, sessions, virtualization } = await start();
    for (let i = 0; i < 3; i++) await call('CREATE');
    virtualization.failNextDestroy = new Error('dockerd said no');
    const outcome = await server.destroySandboxes({ all: true });
    assert.equal(outcome.destroyed.length, 2);
    assert.equal(outcome.failed.length, 1);
    assert.match(outcome.failed[0]!.error, /dockerd said no/);
    assert.equal(sessions.count(), 1);
    assert.equal(sessions.list()[0]?.state, 'running');
  });
});
