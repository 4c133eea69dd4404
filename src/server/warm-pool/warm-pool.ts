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

interface Ready extends PooledSandbox {
  filledAt: number;
}

export class WarmPool {
  private readonly ready: Ready[] = [];
  private readonly fills = new Set<Promise<void>>();
  /** CREATEs that found no ready sandbox and no free slot while fills were running: they get the next one. */
  private readonly waiters: Array<(pooled: PooledSandbox | undefined) => void> = [];
  private recycled = 0;
  private replaced = 0;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  // After a failed fill, no new one before this time (a broken image must not become a create loop).
  private retryAfter = 0;

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
    if (taken !== undefined) this.refill();
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
    void this.discard(dead!).finally(() => this.refill());
    return true;
  }

  /** After a backend outage: ready sandboxes the backend no longer lists died unseen, and are replaced. */
  forgetMissing(liveIds: ReadonlySet<string>): void {
    for (const gone of this.ready.filter((r) => !liveIds.has(r.sandbox.id))) this.forgetEnded(gone.sandbox.id);
  }

  /** Starts fills until the pool is (being) full, within the concurrency bound and the free capacity. */
  refill(): void {
    const { size, refillConcurrency, virtualization, capacity } = this.options;
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

  /** Stops filling, waits for fills in flight, destroys every unclaimed sandbox (their passwords die with us anyway). */
  async close(): Promise<void> {
    this.running = false;
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.fills]);
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
    await Promise.all(this.ready.splice(0).map((r) => this.discard(r)));
  }

  private async fill(uuid: string, slot: CapacitySlot): Promise<void> {
    const { virtualization, createTimeoutMs } = this.options;
    const username = generateUsername();
    const password = generateSshPassword();
    let sandbox: Sandbox;
    try {
      sandbox = await virtualization.create({ uuid, username, password, labels: { [POOL_LABEL]: '1' } }, AbortSignal.timeout(createTimeoutMs));
    } catch (error) {
      slot.release();
      this.retryAfter = Date.now() + 1000;
      this.options.onRuntimeError('warm pool fill', error);
      this.wakeWaiter(undefined);
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
        void this.discard(old).finally(() => this.refill());
      }
    }
    this.refill();
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
