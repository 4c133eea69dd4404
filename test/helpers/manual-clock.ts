// A Clock whose time only moves when a test says so; timers fire in deadline order as it advances.
import type { Clock } from '../../src/server/lifetimes/deadline-scheduler.js';

interface Timer {
  id: number;
  at: number;
  callback: () => void;
}

export class ManualClock implements Clock {
  private readonly timers = new Map<number, Timer>();
  private nextId = 1;
  /** Every delay a timer was armed with, in order (what the scheduler asked for). */
  readonly delays: number[] = [];

  constructor(private time = 1_700_000_000_000) {}

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, delayMs: number): unknown {
    const timer = { id: this.nextId++, at: this.time + delayMs, callback };
    this.timers.set(timer.id, timer);
    this.delays.push(delayMs);
    return timer.id;
  }

  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing each timer at its own time (timers armed meanwhile included). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = [...this.timers.values()].filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (next === undefined) break;
      this.timers.delete(next.id);
      this.time = Math.max(this.time, next.at);
      next.callback();
    }
    this.time = end;
  }
}
