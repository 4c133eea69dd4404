import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionRecord } from '../../../../src/database/session-store.js';
import type { ExpiryReason, LifetimePolicy } from '../../../../src/server/lifetimes/lifetime-policy.js';
import { EXPIRY_RETRY_MS, SandboxLifetimes } from '../../../../src/server/lifetimes/sandbox-lifetimes.js';
import { MemorySessionStore } from '../../../../src/server/memory-session-store.js';
import { silentLogger } from '../../../../src/shared/logger.js';
import { ManualClock } from '../../../helpers/manual-clock.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));

function harness(policy: Partial<LifetimePolicy> = {}) {
  const clock = new ManualClock();
  const sessions = new MemorySessionStore();
  const expired: Array<{ id: number; reason: ExpiryReason; at: number }> = [];
  const openSessions = new Map<string, number>();
  let failNextExpire = false;
  const runtimeErrors: string[] = [];
  const lifetimes = new SandboxLifetimes({
    sessions,
    policy: { maxLifetimeMs: 10_000, maxRenewedLifetimeMs: null, idleTimeoutMs: null, ...policy },
    expire: async (id, reason) => {
      if (failNextExpire) {
        failNextExpire = false;
        throw new Error('dockerd said no');
      }
      expired.push({ id, reason, at: clock.now() });
      sessions.deleteById(id);
      return true;
    },
    countSshSessions: async (containerId) => openSessions.get(containerId) ?? 0,
    isBackendAvailable: () => true,
    logger: silentLogger,
    onRuntimeError: (source) => void runtimeErrors.push(source),
    clock,
  });
  const add = (overrides: Partial<SessionRecord> = {}): SessionRecord =>
    sessions.insert({
      createdAt: clock.now(),
      containerUuidSha256: `u${sessions.count()}`,
      clientTokenSha256: 't',
      containerId: `c${sessions.count()}`,
      port: 10000,
      state: 'running',
      expiresAt: clock.now() + 10_000,
      ...overrides,
    });
  /** Advances the clock and lets the expiry work it started finish. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  return { clock, sessions, expired, openSessions, lifetimes, add, advance, runtimeErrors, failNext: () => (failNextExpire = true) };
}

describe('SandboxLifetimes', () => {
  it('destroys a sandbox at its deadline with reason "expired"', async () => {
    const h = harness();
    await h.lifetimes.start();
    const session = h.add();
    h.lifetimes.track(session);
    await h.advance(9_999);
    assert.deepEqual(h.expired, []);
    await h.advance(1);
    assert.deepEqual(h.expired, [{ id: session.id, reason: 'expired', at: session.expiresAt }]);
    await h.lifetimes.stop();
  });

  it('follows a renewed deadline', async () => {
    const h = harness();
    await h.lifetimes.start();
    const session = h.add();
    h.lifetimes.track(session);
    h.sessions.setExpiresAt(session.id, session.expiresAt! + 5_000);
    h.lifetimes.track(h.sessions.findById(session.id)!);
    await h.advance(10_000);
    assert.deepEqual(h.expired, []);
    await h.advance(5_000);
    assert.equal(h.expired.length, 1);
    await h.lifetimes.stop();
  });

  it('destroys at start, before start resolves, the sessions already past their deadline', async () => {
    const h = harness();
    const overdue = h.add({ expiresAt: h.clock.now() - 1 });
    const current = h.add();
    const expired = await h.lifetimes.start();
    assert.deepEqual(expired.map((e) => [e.session.id, e.reason]), [[overdue.id, 'expired']]);
    assert.deepEqual(h.sessions.list().map((s) => s.id), [current.id]);
    await h.lifetimes.stop();
  });

  it('gives a session stored without a deadline the lifetime of the policy at start', async () => {
    const h = harness();
    const old = h.add({ expiresAt: null, createdAt: h.clock.now() - 20_000 });
    await h.lifetimes.start();
    assert.deepEqual(h.expired.map((e) => e.id), [old.id]);
    await h.lifetimes.stop();
  });

  it('retries a failed destroy after a pause rather than at once', async () => {
    const h = harness();
    await h.lifetimes.start();
    const session = h.add();
    h.lifetimes.track(session);
    h.failNext();
    await h.advance(10_000);
    assert.deepEqual(h.expired, []);
    assert.deepEqual(h.runtimeErrors, ['expire sandbox c0']);
    await h.advance(EXPIRY_RETRY_MS - 1);
    assert.deepEqual(h.expired, []);
    await h.advance(1);
    assert.equal(h.expired.length, 1);
    await h.lifetimes.stop();
  });

  it('destroys a sandbox nobody logged into after idle_timeout with reason "idle"', async () => {
    const h = harness({ maxLifetimeMs: null, idleTimeoutMs: 3_000 });
    await h.lifetimes.start();
    const session = h.add({ expiresAt: null, idleSince: h.clock.now() });
    h.lifetimes.track(session);
    await h.advance(3_000);
    assert.deepEqual(h.expired, [{ id: session.id, reason: 'idle', at: session.createdAt + 3_000 }]);
    await h.lifetimes.stop();
  });

  it('keeps a sandbox while an SSH session is open, and counts idle time from when it closed', async () => {
    const h = harness({ maxLifetimeMs: null, idleTimeoutMs: 3_000 });
    await h.lifetimes.start();
    const session = h.add({ expiresAt: null, idleSince: h.clock.now() });
    h.lifetimes.track(session);
    h.openSessions.set(session.containerId, 1);
    for (let i = 0; i < 10; i++) await h.advance(1_000);
    assert.equal(h.expired.length, 0, 'not idle while logged in');
    h.openSessions.set(session.containerId, 0);
    const closedAt = h.clock.now();
    for (let i = 0; i < 5; i++) await h.advance(1_000);
    assert.equal(h.expired.length, 1);
    // Seen closed at the next probe (1 s later), destroyed idle_timeout after that.
    const idleFor = h.expired[0]!.at - closedAt;
    assert.ok(idleFor >= 3_000 && idleFor <= 4_000, String(idleFor));
    await h.lifetimes.stop();
  });

  it('checks once more at the idle deadline, so a login since the last probe saves the sandbox', async () => {
    const h = harness({ maxLifetimeMs: null, idleTimeoutMs: 30_000 });
    await h.lifetimes.start();
    const session = h.add({ expiresAt: null, idleSince: h.clock.now() });
    h.lifetimes.track(session);
    await h.advance(29_999);
    h.openSessions.set(session.containerId, 1);
    await h.advance(1);
    assert.deepEqual(h.expired, []);
    assert.equal(h.sessions.findById(session.id)?.idleSince, null);
    await h.lifetimes.stop();
  });

  it('leaves alone a session another path is already destroying', async () => {
    const h = harness();
    await h.lifetimes.start();
    const session = h.add();
    h.lifetimes.track(session);
    h.sessions.setState(session.id, 'destroying');
    await h.advance(10_000);
    assert.deepEqual(h.expired, []);
    await h.lifetimes.stop();
  });

  it('arms no timer once stopped', async () => {
    const h = harness({ idleTimeoutMs: 3_000 });
    await h.lifetimes.start();
    h.lifetimes.track(h.add());
    await h.lifetimes.stop();
    assert.equal(h.clock.pending, 0);
  });
});
