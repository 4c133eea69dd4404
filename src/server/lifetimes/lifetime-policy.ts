// Sandbox lifetime rules as pure functions: the first deadline, a renewal, and which deadline (lifetime or idle) comes next.
import type { SessionRecord } from '../../database/session-store.js';

export interface LifetimePolicy {
  /** Lifetime given at CREATE and by each RENEW; null = sandboxes never expire. */
  maxLifetimeMs: number | null;
  /** Cap on a sandbox's whole life, renewals included, from its creation; null = no cap. */
  maxRenewedLifetimeMs: number | null;
  /** No SSH session open for this long destroys the sandbox; null = never. */
  idleTimeoutMs: number | null;
}

/** How an embedding program sets lifetimes on `AnweddolServer` (seconds; the daemon maps the `container.*` keys). */
export interface LifetimeServerOptions {
  /** Seconds a sandbox lives after CREATE and after each RENEW (default 3600); null = no limit. FL sandboxes are not concerned. */
  maxLifetimeSeconds?: number | null;
  /** Cap on a sandbox's whole life from CREATE, renewals included (default 86 400); null = renew forever. */
  maxRenewedLifetimeSeconds?: number | null;
  /** Seconds without an open SSH session after which a sandbox is destroyed (default null: never). */
  idleTimeoutSeconds?: number | null;
}

export const LIFETIME_DEFAULTS: Required<LifetimeServerOptions> = { maxLifetimeSeconds: 3600, maxRenewedLifetimeSeconds: 86_400, idleTimeoutSeconds: null };

/** The policy of validated server options; RangeError names a bad one. */
export function lifetimePolicyOf(options: Required<LifetimeServerOptions>): LifetimePolicy {
  const { maxLifetimeSeconds: lifetime, maxRenewedLifetimeSeconds: renewed, idleTimeoutSeconds: idle } = options;
  for (const [key, value] of Object.entries({ maxLifetimeSeconds: lifetime, maxRenewedLifetimeSeconds: renewed, idleTimeoutSeconds: idle })) {
    if (value !== null && !(value > 0 && Number.isFinite(value))) throw new RangeError(`${key} must be a finite number > 0 or null`);
  }
  if (lifetime !== null && renewed !== null && renewed < lifetime) throw new RangeError('maxRenewedLifetimeSeconds must be ≥ maxLifetimeSeconds');
  const ms = (seconds: number | null) => (seconds === null ? null : seconds * 1000);
  return { maxLifetimeMs: ms(lifetime), maxRenewedLifetimeMs: ms(renewed), idleTimeoutMs: ms(idle) };
}

export type ExpiryReason = 'expired' | 'idle';

export interface Deadline {
  /** Unix milliseconds. */
  at: number;
  reason: ExpiryReason;
}

type Lifetime = Pick<SessionRecord, 'createdAt' | 'expiresAt'>;

function cap(createdAt: number, policy: LifetimePolicy): number {
  return policy.maxRenewedLifetimeMs === null ? Infinity : createdAt + policy.maxRenewedLifetimeMs;
}

/** The deadline of a sandbox created at `createdAt`. */
export function initialExpiry(createdAt: number, policy: LifetimePolicy): number | null {
  if (policy.maxLifetimeMs === null) return null;
  return Math.min(createdAt + policy.maxLifetimeMs, cap(createdAt, policy));
}

/** The deadline after a RENEW at `now`: a full lifetime from now, never past the cap, never earlier than the current one. */
export function renewedExpiry(session: Lifetime, now: number, policy: LifetimePolicy): number | null {
  if (policy.maxLifetimeMs === null) return null;
  const wanted = Math.min(now + policy.maxLifetimeMs, cap(session.createdAt, policy));
  return session.expiresAt === null ? wanted : Math.max(wanted, session.expiresAt);
}

/** A session from before lifetimes existed (or from a daemon without max_lifetime) gets the current policy's deadline. */
export function restoredExpiry(session: Lifetime, policy: LifetimePolicy): number | null {
  return session.expiresAt ?? initialExpiry(session.createdAt, policy);
}

/** The deadline that comes first: the lifetime ('expired') or the idle timeout ('idle'); a tie is 'expired'. */
export function nextDeadline(session: Pick<SessionRecord, 'expiresAt' | 'idleSince'>, policy: LifetimePolicy): Deadline | undefined {
  const idleAt = policy.idleTimeoutMs === null || session.idleSince === null ? null : session.idleSince + policy.idleTimeoutMs;
  if (session.expiresAt !== null && (idleAt === null || session.expiresAt <= idleAt)) return { at: session.expiresAt, reason: 'expired' };
  return idleAt === null ? undefined : { at: idleAt, reason: 'idle' };
}

/** How often open SSH sessions are counted: a tenth of the idle timeout, between 1 and 30 s. */
export function idleProbeIntervalMs(idleTimeoutMs: number): number {
  return Math.min(30_000, Math.max(1_000, Math.round(idleTimeoutMs / 10)));
}

/** Unix seconds, as the protocol carries deadlines (rounded down: the sandbox lives at least until then). */
export function toUnixSeconds(ms: number | null): number | null {
  return ms === null ? null : Math.floor(ms / 1000);
}
