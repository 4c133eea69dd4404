// Remembers each broker request by its idempotency key, so a redelivered message joins or repeats the first answer instead of running again.
import { systemClock, type Clock } from '../client-limits/clock.js';

export interface RequestLedgerOptions {
  /** How long an answer is kept for redeliveries, in ms. */
  ttlMs: number;
  /** Answers kept at most; the oldest go first (requests still running are never dropped). */
  maxEntries: number;
  clock?: Clock;
}

interface Entry<T> {
  answer: Promise<T>;
  /** When the work settled; undefined while it runs. */
  settledAt: number | undefined;
}

export class RequestLedger<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly clock: Clock;

  constructor(private readonly options: RequestLedgerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** The answer for `key`: the running or remembered one, else `work()`'s (started now and remembered). */
  run(key: string, work: () => Promise<T>): Promise<T> {
    this.prune();
    const known = this.entries.get(key);
    if (known !== undefined) return known.answer;
    const entry: Entry<T> = { answer: work(), settledAt: undefined };
    this.entries.set(key, entry);
    // A failed work is not an answer: forgotten, so a redelivery tries again.
    entry.answer.then(
      () => (entry.settledAt = this.clock()),
      () => this.entries.get(key) === entry && this.entries.delete(key),
    );
    return entry.answer;
  }

  /** True while `key` is running or remembered. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private prune(): void {
    const now = this.clock();
    let excess = this.entries.size - this.options.maxEntries + 1;
    // Map order is insertion order, the oldest first: stop at the first answer young enough to keep.
    for (const [key, entry] of this.entries) {
      if (entry.settledAt === undefined) continue;
      if (now - entry.settledAt < this.options.ttlMs && excess <= 0) break;
      this.entries.delete(key);
      excess--;
    }
  }
}
