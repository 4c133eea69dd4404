// Lets one log line per key through per window (a flooding client costs one line a minute, not one per attempt).
import type { Clock } from './clock.js';

export class NoticeThrottle {
  private readonly lastNoticed = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly clock: Clock,
    /** Past this many remembered keys, the expired ones are dropped. */
    private readonly maxKeys = 10_000,
  ) {}

  /** True when `key` was not noticed within the window (and marks it noticed now). */
  shouldNotice(key: string): boolean {
    const now = this.clock();
    const last = this.lastNoticed.get(key);
    if (last !== undefined && now - last < this.windowMs) return false;
    if (this.lastNoticed.size >= this.maxKeys) this.dropExpired(now);
    // Still full: that many distinct clients refused within one window is a flood, and stays quiet until it ends.
    if (this.lastNoticed.size >= this.maxKeys) return false;
    this.lastNoticed.set(key, now);
    return true;
  }

  private dropExpired(now: number): void {
    for (const [key, at] of this.lastNoticed) if (now - at >= this.windowMs) this.lastNoticed.delete(key);
  }
}
