// Enforces sandbox lifetimes: one deadline timer for every session, idle detection by counting SSH sessions, and the start-up pass.
import type { SessionRecord, SessionStore } from '../../database/session-store.js';
import type { Logger } from '../../shared/logger.js';
import { DeadlineScheduler, systemClock, type Clock } from './deadline-scheduler.js';
import { idleProbeIntervalMs, nextDeadline, restoredExpiry, type ExpiryReason, type LifetimePolicy } from './lifetime-policy.js';

export interface SandboxLifetimesOptions {
  sessions: SessionStore;
  policy: LifetimePolicy;
  /** Destroys the sandbox of a running session; resolves false when the session was no longer running. */
  expire(sessionId: number, reason: ExpiryReason): Promise<boolean>;
  /** Authenticated SSH sessions open in a sandbox (VirtualizationInterface.countSshSessions). */
  countSshSessions(containerId: string): Promise<number>;
  isBackendAvailable(): boolean;
  logger: Logger;
  onRuntimeError(source: string, error: unknown): void;
  clock?: Clock;
}

export interface ExpiredSandbox {
  session: SessionRecord;
  reason: ExpiryReason;
}

/** After a failed destroy (backend down, dockerd error), the next attempt. */
export const EXPIRY_RETRY_MS = 5_000;

export class SandboxLifetimes {
  private readonly clock: Clock;
  private readonly scheduler: DeadlineScheduler<number>;
  private probeTimer: unknown;
  private probing: Promise<void> | undefined;
  /** Expiries under way (awaited by stop(), so none outlives the backend). */
  private readonly inFlight = new Set<Promise<void>>();
  private running = false;

  constructor(private readonly options: SandboxLifetimesOptions) {
    this.clock = options.clock ?? systemClock;
    this.scheduler = new DeadlineScheduler((id) => this.hold(this.onDue(id)), this.clock);
  }

  /** Start-up: gives old sessions a deadline, destroys the overdue ones (awaited), schedules the rest, starts idle probes. */
  async start(): Promise<ExpiredSandbox[]> {
    this.running = true;
    const expired = await this.sync();
    this.scheduleProbe();
    return expired;
  }

  /** Re-reads every session (start, backend recovery): fills in missing deadlines, enforces what is due now, schedules the rest. */
  async sync(): Promise<ExpiredSandbox[]> {
    const { sessions, policy } = this.options;
    if (!this.running) return [];
    this.scheduler.clear();
    for (const session of sessions.list()) {
      const expiresAt = restoredExpiry(session, policy);
      if (expiresAt !== session.expiresAt) sessions.setExpiresAt(session.id, expiresAt);
    }
    const expired = await this.expireOverdue();
    for (const session of sessions.list()) this.track(session);
    return expired;
  }

  /** Enforces every deadline already past (also `destroy --expired`); returns what it destroyed. */
  async expireOverdue(): Promise<ExpiredSandbox[]> {
    const expired: ExpiredSandbox[] = [];
    const now = this.clock.now();
    for (const session of this.options.sessions.list()) {
      const deadline = session.state === 'running' ? nextDeadline(session, this.options.policy) : undefined;
      if (deadline === undefined || deadline.at > now) continue;
      if (await this.enforce(session, deadline.reason)) expired.push({ session, reason: deadline.reason });
    }
    return expired;
  }

  /** (Re)schedules a session from its row: call after inserting it or changing its deadline. */
  track(session: SessionRecord): void {
    // Before start, sync() will read every row anyway; after stop, nothing may fire.
    if (!this.running) return;
    const deadline = session.state === 'running' ? nextDeadline(session, this.options.policy) : undefined;
    if (deadline === undefined) this.scheduler.delete(session.id);
    else this.scheduler.set(session.id, deadline.at);
  }

  untrack(sessionId: number): void {
    this.scheduler.delete(sessionId);
  }

  /** A destroy of this session failed: try again later rather than at once. */
  retryLater(sessionId: number): void {
    if (this.running) this.scheduler.set(sessionId, this.clock.now() + EXPIRY_RETRY_MS);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.scheduler.clear();
    if (this.probeTimer !== undefined) this.clock.clearTimer(this.probeTimer);
    this.probeTimer = undefined;
    await Promise.all([this.probing, ...this.inFlight]);
  }

  /** Keeps a background expiry until it settles; a failure is a runtime error, never an unhandled rejection. */
  private hold(work: Promise<void>): void {
    const held = work.catch((error: unknown) => this.options.onRuntimeError('sandbox lifetimes', error)).finally(() => this.inFlight.delete(held));
    this.inFlight.add(held);
  }

  private async onDue(sessionId: number): Promise<void> {
    const session = this.options.sessions.findById(sessionId);
    if (session === undefined || session.state !== 'running') return;
    const deadline = nextDeadline(session, this.options.policy);
    if (deadline === undefined) return;
    // Renewed, or seen active, since it was scheduled.
    if (deadline.at > this.clock.now()) return this.track(session);
    await this.enforce(session, deadline.reason);
  }

  /** Destroys a session whose deadline has passed; an idle one is first checked once more, so a session opened since the last probe saves it. */
  private async enforce(session: SessionRecord, reason: ExpiryReason): Promise<boolean> {
    const { sessions, logger } = this.options;
    if (reason === 'idle') {
      const open = await this.options.countSshSessions(session.containerId).catch(() => undefined);
      if (open === undefined) {
        this.retryLater(session.id);
        return false;
      }
      if (open > 0) {
        this.markActive(session.id);
        return false;
      }
    }
    try {
      logger.info(`sandbox ${session.containerId.slice(0, 12)} reached its ${reason === 'idle' ? 'idle timeout' : 'lifetime'}`);
      return await this.options.expire(session.id, reason);
    } catch (error) {
      // A backend outage is retried quietly; reconciliation on recovery re-syncs anyway.
      if (this.options.isBackendAvailable()) this.options.onRuntimeError(`expire sandbox ${session.containerId.slice(0, 12)}`, error);
      this.retryLater(session.id);
      if (sessions.findById(session.id) === undefined) this.untrack(session.id);
      return false;
    }
  }

  private scheduleProbe(): void {
    const idleTimeoutMs = this.options.policy.idleTimeoutMs;
    if (!this.running || idleTimeoutMs === null) return;
    this.probeTimer = this.clock.setTimer(() => {
      this.probing = this.probeAll()
        .catch((error: unknown) => this.options.onRuntimeError('idle probe', error))
        .finally(() => {
          this.probing = undefined;
          this.scheduleProbe();
        });
    }, idleProbeIntervalMs(idleTimeoutMs));
  }

  /** Counts SSH sessions in every sandbox, one at a time (bounded load on the engine), and records when each became idle or active. */
  private async probeAll(): Promise<void> {
    const { sessions } = this.options;
    if (!this.options.isBackendAvailable()) return;
    for (const listed of sessions.list()) {
      if (!this.running) return;
      if (listed.state !== 'running') continue;
      const open = await this.options.countSshSessions(listed.containerId).catch(() => undefined);
      const session = sessions.findById(listed.id);
      if (open === undefined || session === undefined || session.state !== 'running') continue;
      if (open > 0 && session.idleSince !== null) this.markActive(session.id);
      else if (open === 0 && session.idleSince === null) this.markIdle(session.id);
    }
  }

  private markActive(sessionId: number): void {
    this.setIdleSince(sessionId, null);
  }

  private markIdle(sessionId: number): void {
    this.setIdleSince(sessionId, this.clock.now());
  }

  private setIdleSince(sessionId: number, idleSince: number | null): void {
    const { sessions } = this.options;
    sessions.setIdleSince(sessionId, idleSince);
    const session = sessions.findById(sessionId);
    if (session !== undefined) this.track(session);
  }
}
