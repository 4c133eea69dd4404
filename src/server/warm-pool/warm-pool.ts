// Keeps sandboxes ready before anyone asks (started, sshd answering, login made) so CREATE only claims one.
import { generateSshPassword, generateUsername, generateUuid } from '../../crypto/tokens.js';
import type { Logger } from '../../shared/logger.js';
import type { Sandbox, VirtualizationInterface } from '../../virtualization/virtualization-interface.js';
import type { CapacitySlot, SandboxCapacity } from '../sandbox-capacity.js';

/** Label of sandboxes made for the pool: after a restart an unclaimed one (no session) has lost its password. */
export const POOL_LABEL = 'anweddol.pool';

/** A ready sandbox: its credentials live only here, in memory; its capacity slot is held until it is claimed or destroyed. */
export interface PooledSandbox {
  sandbox: Sandbox;
  username: string;
  password: string;
  slot: CapacitySlot;
}

export interface WarmPoolOptions {
  /** Ready sandboxes to keep; 0 disables the pool. */
  size: number;
  /** Fills running at once, so a burst of claims does not stall dockerd for everyone. */
  refillConcurrency: number;
  /** A ready sandbox older than this is recycled; null: never. */
  maxAgeMs: number | null;
  virtualization: VirtualizationInterface;
  capacity: SandboxCapacity;
  /** Bound on one fill, as on one cold creation. */
  createTimeoutMs: number;
  logger: Logger;
  onRuntimeError(source: string, error: unknown): void;
  /** How often ages are checked and missing sandboxes refilled (fills blocked by capacity or a failure retry then). */
  maintenanceIntervalMs?: number;
}

export interface WarmPoolStatistics {
  size: number;
  ready: number;
  filling: number;
  /** Since start: ready sandboxes destroyed for age. */
  recycled: number;
  /** Since start: ready sandboxes that died and were replaced. */
  replaced: number;
}

/**
 * After a claim, refilling waits until claims pause this long (ms), and at most REFILL_MAX_DEFER_MS after the first
 * deferred claim: a fill makes dockerd (and the host's CPU) busy, and a burst of claims should be answered first.
 */
export const REFILL_QUIET_MS = 150;
export const REFILL_MAX_DEFER_MS = 1000;

interface Ready extends PooledSandbox {
  filledAt: number;
}

export class WarmPool {
  private readonly ready: Ready[] = [];
  private readonly fills = new Set<Promise<void>>();
  /** Destroys in flight of recycled or dead sandboxes: close() waits for them too. */
  private readonly discards = new Set<Promise<void>>();
  /** Aborted by close(): a fill in flight stops where it is and its container is removed (a fresh one per start). */
  private closing = new AbortController();
  /** CREATEs that found no ready sandbox and no free slot while fills were running: they get the next one. */
  private readonly waiters: Array<(pooled: PooledSandbox | undefined) => void> = [];
  private recycled = 0;
  private replaced = 0;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  // After a failed fill, no new one before this time (a broken image must not become a create loop).
  private retryAfter = 0;
  /** Pending start of the refill deferred by claims (see REFILL_QUIET_MS); while set, refill() waits for it. */
  private deferredRefill: NodeJS.Timeout | undefined;
  private deferredSince = 0;

  constructor(private readonly options: WarmPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 0) throw new RangeError('warm pool size must be an integer ≥ 0');
    if (!Number.isInteger(options.refillConcurrency) || options.refillConcurrency < 1) throw new RangeError('warm pool refill concurrency must be an integer ≥ 1');
    if (options.maxAgeMs !== null && !(options.maxAgeMs > 0)) throw new RangeError('warm pool max age must be > 0 or null');
  }

  get enabled(): boolean {
    return this.options.size > 0;
  }

  start(): void {
    if (!this.enabled || this.running) return;
    this.running = true;
    if (this.closing.signal.aborted) this.closing = new AbortController();
    const interval = this.options.maintenanceIntervalMs ?? Math.min(5000, this.options.maxAgeMs ?? 5000);
    this.timer = setInterval(() => this.maintain(), interval);
    this.timer.unref();
    this.refill();
  }

  statistics(): WarmPoolStatistics {
    return { size: this.options.size, ready: this.ready.length, filling: this.fills.size, recycled: this.recycled, replaced: this.replaced };
  }

  /** True while this container sits unclaimed in the pool (reconciliation must leave it alone). */
  holds(containerId: string): boolean {
    return this.ready.some((r) => r.sandbox.id === containerId);
  }

  /**
   * Takes a ready sandbox, synchronously so two CREATEs can never get the same one; undefined when none is
   * ready. The caller owns the returned slot and sandbox from now on.
   */
  claim(): PooledSandbox | undefined {
    const taken = this.ready.shift();
    if (taken !== undefined) this.refillAfterClaims();
    return taken === undefined ? undefined : withoutAge(taken);
  }

  /**
   * A ready sandbox, or — when none is ready and every free slot is held by fills — the next one filled;
   * undefined when a cold create should be tried instead.
   */
  async claimOrWait(): Promise<PooledSandbox | undefined> {
    const taken = this.claim();
    if (taken !== undefined || !this.running) return taken;
    const free = this.options.capacity.available();
    if (free === 'nolimit' || free > 0 || this.fills.size <= this.waiters.length) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** A sandbox that ended behind our back: when it was a ready one, it is dropped and replaced. Returns whether it was. */
  forgetEnded(containerId: string): boolean {
    const index = this.ready.findIndex((r) => r.sandbox.id === containerId);
    if (index < 0) return false;
    const [dead] = this.ready.splice(index, 1);
    this.replaced++;
    this.options.logger.info(`warm pool: sandbox ${containerId.slice(0, 12)} ended; replacing it`);
    this.discardThenRefill(dead!);
    return true;
  }

  /** After a backend outage: ready sandboxes the backend no longer lists died unseen, and are replaced. */
  forgetMissing(liveIds: ReadonlySet<string>): void {
    for (const gone of this.ready.filter((r) => !liveIds.has(r.sandbox.id))) this.forgetEnded(gone.sandbox.id);
  }

  /** Starts fills until the pool is (being) full, within the concurrency bound and the free capacity; not while claims defer it. */
  refill(): void {
    const { size, refillConcurrency, virtualization, capacity } = this.options;
    if (this.deferredRefill !== undefined) return;
    while (this.running && virtualization.isAvailable() && Date.now() >= this.retryAfter) {
      if (this.ready.length + this.fills.size >= size || this.fills.size >= refillConcurrency) return;
      const uuid = generateUuid();
      const slot = capacity.tryReserve(uuid);
      if (slot === undefined) return;
      const fill = this.fill(uuid, slot);
      this.fills.add(fill);
      void fill.finally(() => {
        this.fills.delete(fill);
        this.refill();
      });
    }
  }

  /**
   * Stops filling, aborts the fills in flight (each removes its half-made container), destroys every unclaimed sandbox
   * (their passwords die with us anyway) and resolves once all of them are gone. Idempotent.
   */
  async close(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.deferredRefill);
    this.deferredRefill = undefined;
    // A fill can take as long as a cold create (tens of seconds on a loaded dockerd): a stop must not wait for it.
    this.closing.abort();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    const ready = this.ready.splice(0);
    await Promise.allSettled([...this.fills, ...this.discards, ...ready.map((r) => this.discard(r))]);
  }

  private async fill(uuid: string, slot: CapacitySlot): Promise<void> {
    const { virtualization, createTimeoutMs } = this.options;
    const username = generateUsername();
    const password = generateSshPassword();
    const closing = this.closing.signal;
    let sandbox: Sandbox;
    try {
      const signal = AbortSignal.any([closing, AbortSignal.timeout(createTimeoutMs)]);
      sandbox = await virtualization.create({ uuid, username, password, labels: { [POOL_LABEL]: '1' } }, signal);
    } catch (error) {
      slot.release();
      this.wakeWaiter(undefined);
      // Aborted by close(): the backend removed what it had made; nothing went wrong.
      if (closing.aborted) return;
      this.retryAfter = Date.now() + 1000;
      this.options.onRuntimeError('warm pool fill', error);
      return;
    }
    const pooled: Ready = { sandbox, username, password, slot, filledAt: Date.now() };
    if (!this.running) {
      await this.discard(pooled);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(withoutAge(pooled));
    else this.ready.push(pooled);
  }

  /** Refills once claims pause; at once when the pool is empty (the next CREATE goes cold anyway, so the fill cannot wait). */
  private refillAfterClaims(): void {
    const now = Date.now();
    if (this.deferredRefill === undefined) this.deferredSince = now;
    clearTimeout(this.deferredRefill);
    this.deferredRefill = undefined;
    if (this.ready.length === 0) {
      this.refill();
      return;
    }
    const wait = Math.max(0, Math.min(REFILL_QUIET_MS, this.deferredSince + REFILL_MAX_DEFER_MS - now));
    this.deferredRefill = setTimeout(() => {
      this.deferredRefill = undefined;
      this.refill();
    }, wait);
  }

  private wakeWaiter(pooled: PooledSandbox | undefined): void {
    this.waiters.shift()?.(pooled);
  }

  private maintain(): void {
    const { maxAgeMs } = this.options;
    if (maxAgeMs !== null) {
      const now = Date.now();
      for (const old of this.ready.filter((r) => now - r.filledAt >= maxAgeMs)) {
        this.ready.splice(this.ready.indexOf(old), 1);
        this.recycled++;
        this.discardThenRefill(old);
      }
    }
    this.refill();
  }

  /** Destroys a sandbox that left the pool behind our back or for age, tracked so close() waits for it, then refills. */
  private discardThenRefill(pooled: PooledSandbox): void {
    const discarding = this.discard(pooled).finally(() => {
      this.discards.delete(discarding);
      this.refill();
    });
    this.discards.add(discarding);
  }

  private async discard(pooled: PooledSandbox): Promise<void> {
    try {
      await this.options.virtualization.destroy(pooled.sandbox.id);
    } catch (error) {
      this.options.onRuntimeError(`warm pool destroy ${pooled.sandbox.id.slice(0, 12)}`, error);
    } finally {
      pooled.slot.release();
    }
  }
}

function withoutAge({ sandbox, username, password, slot }: PooledSandbox): PooledSandbox {
  return { sandbox, username, password, slot };
}
