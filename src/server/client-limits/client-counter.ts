// Live things per client key (connections) under a cap; keys at zero are forgotten, so memory follows live use.

export class ClientCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number | null) {}

  /** Counts one more for `key` and returns its release (idempotent); undefined when the key is at the cap. */
  tryAcquire(key: string): (() => void) | undefined {
    const current = this.counts.get(key) ?? 0;
    if (this.max !== null && current >= this.max) return undefined;
    this.counts.set(key, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left <= 0) this.counts.delete(key);
      else this.counts.set(key, left);
    };
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Keys with at least one live thing. */
  get size(): number {
    return this.counts.size;
  }
}
