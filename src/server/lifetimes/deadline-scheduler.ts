// One timer for many deadlines: each key fires once its deadline has come, and the timer is re-armed for the earliest one left.

/** Time and timers, injectable so the scheduler is tested without waiting. */
export interface Clock {
  /** Unix milliseconds. */
  now(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // Unref'd: a pending deadline alone must not keep a process alive (the listeners do while the server runs).
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs).unref(),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

// setTimeout holds at most 2^31-1 ms (≈ 24.8 days); a later deadline is reached by re-arming on the way.
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export class DeadlineScheduler<K> {
  private readonly deadlines = new Map<K, number>();
  private timer: unknown;
  private armedFor: number | undefined;

  constructor(
    /** Called once per key whose deadline has come; the key is no longer scheduled when it runs. */
    private readonly onDue: (key: K) => void,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Schedules `key` at `at` (Unix ms), replacing its previous deadline; a past deadline fires at once. */
  set(key: K, at: number): void {
    this.deadlines.set(key, at);
    this.arm();
  }

  delete(key: K): void {
    if (this.deadlines.delete(key)) this.arm();
  }

  deadlineOf(key: K): number | undefined {
    return this.deadlines.get(key);
  }

  get size(): number {
    return this.deadlines.size;
  }

  /** Forgets every deadline and stops the timer. */
  clear(): void {
    this.deadlines.clear();
    this.disarm();
  }

  // A linear scan for the earliest deadline: there are at most a few hundred sandboxes, and it keeps the structure obvious.
  private earliest(): number | undefined {
    let earliest: number | undefined;
    for (const at of this.deadlines.values()) if (earliest === undefined || at < earliest) earliest = at;
    return earliest;
  }

  private arm(): void {
    const next = this.earliest();
    if (next !== undefined && next === this.armedFor) return;
    this.disarm();
    if (next === undefined) return;
    this.armedFor = next;
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, next - this.clock.now()));
    this.timer = this.clock.setTimer(() => this.fire(), delay);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.armedFor = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = undefined;
    const now = this.clock.now();
    const due = [...this.deadlines].filter(([, at]) => at <= now).sort((a, b) => a[1] - b[1]);
    for (const [key] of due) this.deadlines.delete(key);
    this.arm();
    // After re-arming: a handler may schedule its key again.
    for (const [key] of due) this.onDue(key);
  }
}
