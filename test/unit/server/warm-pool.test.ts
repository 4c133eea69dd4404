// The warm pool over the fake backend: claims are atomic, vetoes destroy, an empty pool falls back to cold, ages recycle, passwords stay out of logs.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { AnweddolServerOptions } from '../../../src/server/anweddol-server.js';
import { credentialsOf, startFakeServer, TEST_CLIENT, type FakeServer } from '../../helpers/fake-server.js';
import { FakeVirtualization } from '../../helpers/fake-virtualization.js';
import { MemoryLogger } from '../../helpers/memory-logger.js';
import { testServerKeyPair } from '../../helpers/test-keys.js';
import { AnweddolServer } from '../../../src/server/anweddol-server.js';
import { REFILL_MAX_DEFER_MS } from '../../../src/server/warm-pool/warm-pool.js';
import { until } from '../../helpers/until.js';

const running: FakeServer[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

async function poolServer(options: Partial<AnweddolServerOptions>): Promise<FakeServer> {
  const s = await startFakeServer(options);
  running.push(s);
  return s;
}

const pool = (s: FakeServer) => s.server.getRuntimeStatistics().warmPool;

describe('warm pool', () => {
  it('gives 50 concurrent CREATEs at most one sandbox each, never one sandbox twice', async () => {
    const s = await poolServer({ maxSandboxes: 10, warmPoolSize: 10, warmPoolRefillConcurrency: 10 });
    await until(() => pool(s).ready === 10);
    const answers = await Promise.all(Array.from({ length: 50 }, () => s.call('CREATE')));
    const granted = answers.filter((a) => a.success);
    assert.equal(granted.length, 10);
    assert.equal(new Set(granted.map((a) => a.data.container_listen_port)).size, 10);
    assert.equal(new Set(s.sessions.list().map((row) => row.containerId)).size, 10);
  });

  it('creates cold when the pool is empty and a slot is free', async () => {
    const s = await poolServer({ maxSandboxes: 3, warmPoolSize: 1 });
    await until(() => pool(s).ready === 1);
    const sources: string[] = [];
    s.server.observe({ sandboxCreated: (_seconds, source) => void sources.push(source) });
    const answers = await Promise.all([s.call('CREATE'), s.call('CREATE')]);
    assert.deepEqual(answers.map((a) => a.message), ['OK', 'OK']);
    assert.deepEqual(sources.sort(), ['cold', 'pool']);
  });

  it('gives a CREATE the sandbox being filled when fills hold every free slot, instead of refusing it', async () => {
    const virtualization = new FakeVirtualization({ createDelayMs: 200 });
    const server = new AnweddolServer({ rsaKeyPair: await testServerKeyPair(), enableTcp: false, virtualization, maxSandboxes: 2, warmPoolSize: 2 });
    await server.start();
    try {
      assert.equal(server.getRuntimeStatistics().warmPool.filling, 2);
      const created = await server.dispatch({ verb: 'CREATE', parameters: {} }, TEST_CLIENT);
      assert.equal(created.message, 'OK');
    } finally {
      await server.stop();
    }
  });

  it('destroys a vetoed pool sandbox instead of returning it, and refills', async () => {
    const s = await poolServer({ maxSandboxes: 3, warmPoolSize: 1 });
    await until(() => pool(s).ready === 1);
    const [pooled] = s.virtualization.sandboxes.keys();
    s.server.on('created_container', (ctx) => ctx.refuse('no'));
    assert.equal((await s.call('CREATE')).success, false);
    assert.equal(s.virtualization.destroyed.includes(pooled!), true);
    await until(() => pool(s).ready === 1);
    assert.equal(s.virtualization.sandboxes.has(pooled!), false);
  });

  it('recycles a pool sandbox older than the max age', async () => {
    const s = await poolServer({ maxSandboxes: 2, warmPoolSize: 1, warmPoolMaxAgeSeconds: 1 });
    await until(() => pool(s).ready === 1);
    const [first] = s.virtualization.sandboxes.keys();
    await until(() => pool(s).recycled === 1, 5000);
    await until(() => pool(s).ready === 1);
    assert.equal(s.virtualization.sandboxes.has(first!), false);
  });

  it('replaces a pool sandbox that ended', async () => {
    const s = await poolServer({ maxSandboxes: 2, warmPoolSize: 1 });
    await until(() => pool(s).ready === 1);
    const [first] = s.virtualization.sandboxes.keys();
    s.virtualization.end(first!);
    await until(() => pool(s).replaced === 1 && pool(s).ready === 1);
    assert.equal(s.sessions.count(), 0);
  });

  it('replaces a pool sandbox that vanished during a backend outage', async () => {
    const s = await poolServer({ maxSandboxes: 2, warmPoolSize: 1 });
    await until(() => pool(s).ready === 1);
    const [first] = s.virtualization.sandboxes.keys();
    s.virtualization.setAvailable(false);
    s.virtualization.sandboxes.delete(first!);
    s.virtualization.setAvailable(true);
    await until(() => pool(s).replaced === 1 && pool(s).ready === 1);
    assert.equal(s.virtualization.sandboxes.has(first!), false);
  });

  it('starts the lifetime at claim, not at fill', async () => {
    const s = await poolServer({ maxSandboxes: 2, warmPoolSize: 1, maxLifetimeSeconds: 60 });
    await until(() => pool(s).ready === 1);
    await new Promise((r) => setTimeout(r, 1100));
    const claimedAt = Math.floor(Date.now() / 1000);
    const created = await s.call('CREATE');
    assert.ok((created.data.expires_at as number) >= claimedAt + 60);
  });

  it('never logs a pool password', async () => {
    const logger = new MemoryLogger();
    const s = await poolServer({ maxSandboxes: 2, warmPoolSize: 1, logger });
    await until(() => pool(s).ready === 1);
    const created = await s.call('CREATE');
    await s.call('DESTROY', credentialsOf(created));
    await until(() => pool(s).ready === 1);
    assert.equal(logger.text().includes(created.data.container_password as string), false);
  });

  it('aborts the fills in flight when the server stops, removing their sandboxes, instead of waiting for them', async () => {
    const virtualization = new FakeVirtualization({ createDelayMs: 60_000, listedWhileCreating: true });
    const server = new AnweddolServer({ rsaKeyPair: await testServerKeyPair(), enableTcp: false, virtualization, maxSandboxes: 2, warmPoolSize: 2 });
    await server.start();
    assert.equal(server.getRuntimeStatistics().warmPool.filling, 2);
    const started = Date.now();
    await server.stop();
    assert.ok(Date.now() - started < 5000, `stop took ${Date.now() - started} ms`);
    assert.equal(virtualization.sandboxes.size, 0);
    assert.equal(server.getRuntimeStatistics().runtimeErrors, 0);
  });

  it('starts refilling only once claims pause, so a burst is answered before dockerd gets busy', async () => {
    // Fills that take a while, so one started by a claim would still show as filling.
    const s = await poolServer({ maxSandboxes: 6, warmPoolSize: 3, virtualization: new FakeVirtualization({ createDelayMs: 300 }) });
    await until(() => pool(s).ready === 3);
    assert.equal((await s.call('CREATE')).message, 'OK');
    assert.equal((await s.call('CREATE')).message, 'OK');
    assert.equal(pool(s).filling, 0);
    await until(() => pool(s).ready === 3, REFILL_MAX_DEFER_MS + 2000);
  });

  it('refills at once when a claim empties the pool', async () => {
    const s = await poolServer({ maxSandboxes: 3, warmPoolSize: 1, virtualization: new FakeVirtualization({ createDelayMs: 300 }) });
    await until(() => pool(s).ready === 1);
    assert.equal((await s.call('CREATE')).message, 'OK');
    assert.equal(pool(s).filling, 1);
  });

  it('refuses a pool larger than the sandbox limit', async () => {
    await assert.rejects(async () => new AnweddolServer({ rsaKeyPair: await testServerKeyPair(), enableTcp: false, maxSandboxes: 2, warmPoolSize: 3 }), /warmPoolSize must not exceed maxSandboxes/);
  });
});
