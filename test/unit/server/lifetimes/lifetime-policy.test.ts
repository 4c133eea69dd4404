import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  idleProbeIntervalMs,
  initialExpiry,
  LIFETIME_DEFAULTS,
  lifetimePolicyOf,
  nextDeadline,
  renewedExpiry,
  restoredExpiry,
  toUnixSeconds,
  type LifetimePolicy,
} from '../../../../src/server/lifetimes/lifetime-policy.js';

const HOUR = 3_600_000;
const policy: LifetimePolicy = { maxLifetimeMs: HOUR, maxRenewedLifetimeMs: 3 * HOUR, idleTimeoutMs: null };
const created = 1_700_000_000_000;

describe('lifetime policy', () => {
  it('gives a new sandbox max_lifetime', () => {
    assert.equal(initialExpiry(created, policy), created + HOUR);
  });

  it('gives no deadline when max_lifetime is null', () => {
    assert.equal(initialExpiry(created, { ...policy, maxLifetimeMs: null }), null);
  });

  it('renews to a full lifetime from now', () => {
    assert.equal(renewedExpiry({ createdAt: created, expiresAt: created + HOUR }, created + HOUR / 2, policy), created + 1.5 * HOUR);
  });

  it('never renews past max_renewed_lifetime from creation', () => {
    assert.equal(renewedExpiry({ createdAt: created, expiresAt: created + 2.5 * HOUR }, created + 2.5 * HOUR, policy), created + 3 * HOUR);
  });

  it('renews without a cap when max_renewed_lifetime is null', () => {
    const now = created + 100 * HOUR;
    assert.equal(renewedExpiry({ createdAt: created, expiresAt: now }, now, { ...policy, maxRenewedLifetimeMs: null }), now + HOUR);
  });

  it('never moves a deadline earlier on renewal', () => {
    const later = created + 5 * HOUR;
    assert.equal(renewedExpiry({ createdAt: created, expiresAt: later }, created + 1000, policy), later);
  });

  it('gives a session stored without a deadline the current policy', () => {
    assert.equal(restoredExpiry({ createdAt: created, expiresAt: null }, policy), created + HOUR);
    assert.equal(restoredExpiry({ createdAt: created, expiresAt: created + 42 }, policy), created + 42);
  });

  it('names the lifetime as the next deadline when no idle timeout applies', () => {
    assert.deepEqual(nextDeadline({ expiresAt: created + HOUR, idleSince: created }, policy), { at: created + HOUR, reason: 'expired' });
  });

  it('names the idle deadline when it comes before the lifetime', () => {
    const idle = { ...policy, idleTimeoutMs: 60_000 };
    assert.deepEqual(nextDeadline({ expiresAt: created + HOUR, idleSince: created + 1000 }, idle), { at: created + 61_000, reason: 'idle' });
  });

  it('has no idle deadline while an SSH session is open', () => {
    const idle = { ...policy, maxLifetimeMs: null, idleTimeoutMs: 60_000 };
    assert.equal(nextDeadline({ expiresAt: null, idleSince: null }, idle), undefined);
  });

  it('calls a tie between lifetime and idle an expiry', () => {
    const idle = { ...policy, idleTimeoutMs: HOUR };
    assert.equal(nextDeadline({ expiresAt: created + HOUR, idleSince: created }, idle)?.reason, 'expired');
  });

  it('probes for SSH sessions every tenth of the idle timeout, within 1 to 30 s', () => {
    assert.equal(idleProbeIntervalMs(3_000), 1_000);
    assert.equal(idleProbeIntervalMs(120_000), 12_000);
    assert.equal(idleProbeIntervalMs(HOUR), 30_000);
  });

  it('turns the server options into milliseconds', () => {
    assert.deepEqual(lifetimePolicyOf(LIFETIME_DEFAULTS), { maxLifetimeMs: HOUR, maxRenewedLifetimeMs: 24 * HOUR, idleTimeoutMs: null });
  });

  it('refuses a zero, negative or infinite option, and a renewal cap below the lifetime', () => {
    for (const bad of [0, -1, Infinity, Number.NaN]) {
      assert.throws(() => lifetimePolicyOf({ ...LIFETIME_DEFAULTS, idleTimeoutSeconds: bad }), /idleTimeoutSeconds must be a finite number > 0 or null/);
    }
    assert.throws(() => lifetimePolicyOf({ ...LIFETIME_DEFAULTS, maxRenewedLifetimeSeconds: 60 }), /maxRenewedLifetimeSeconds must be ≥ maxLifetimeSeconds/);
  });

  it('carries deadlines as whole Unix seconds, rounded down', () => {
    assert.equal(toUnixSeconds(1_700_000_000_999), 1_700_000_000);
    assert.equal(toUnixSeconds(null), null);
  });
});
