// A token bucket: `rate.count` tokens at most, refilled continuously at `rate.count` per period.
import type { Clock } from './clock.js';
import type { Rate } from './rate.js';

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly rate: Rate,
    private readonly clock: Clock,
  ) {
    this.tokens = rate.count;
    this.updatedAt = clock();
  }

  /** Takes one token if there is one. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** A full bucket behaves exactly like a fresh one, so it can be forgotten. */
  isFull(): boolean {
    this.refill();
    return this.tokens >= this.rate.count;
  }

  private refill(): void {
    const now = this.clock();
    const elapsed = Math.max(0, now - this.updatedAt);
    this.updatedAt = now;
    this.tokens = Math.min(this.rate.count, this.tokens + (elapsed * this.rate.count) / this.rate.periodMs);
  }
}
