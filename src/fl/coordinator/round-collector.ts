// Collects one answer per selected client until all answered (or `enough` did), all remaining were dropped, or the deadline.

export type AcceptOutcome = 'accepted' | 'duplicate' | 'not_selected';

export interface CollectedRound<T> {
  received: Map<string, T>;
  /** Selected clients that neither answered nor were dropped before the end. */
  missing: string[];
  timedOut: boolean;
}

export class RoundCollector<T> {
  private readonly pending: Set<string>;
  private readonly received = new Map<string, T>();
  private timer: NodeJS.Timeout | undefined;
  private resolveDone!: (r: CollectedRound<T>) => void;
  private settled = false;
  readonly done: Promise<CollectedRound<T>>;

  /** `enough`: stop collecting once this many answered (default: every selected client). */
  constructor(
    selected: Iterable<string>,
    deadlineMs: number,
    private readonly enough = Infinity,
  ) {
    this.pending = new Set(selected);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.timer = setTimeout(() => this.finish(true), deadlineMs);
    this.check();
  }

  isPending(clientId: string): boolean {
    return !this.settled && this.pending.has(clientId);
  }

  /** Check without recording (validate before storing). */
  wouldAccept(clientId: string): AcceptOutcome {
    if (this.received.has(clientId)) return 'duplicate';
    return this.isPending(clientId) ? 'accepted' : 'not_selected';
  }

  accept(clientId: string, value: T): AcceptOutcome {
    const outcome = this.wouldAccept(clientId);
    if (outcome !== 'accepted') return outcome;
    this.pending.delete(clientId);
    this.received.set(clientId, value);
    this.check();
    return 'accepted';
  }

  /** The client left (sandbox died): stop waiting for it. */
  drop(clientId: string): void {
    if (this.pending.delete(clientId)) this.check();
  }

  /** Ends now (training cancelled). */
  cancel(): void {
    this.finish(false);
  }

  private check(): void {
    if (this.pending.size === 0 || this.received.size >= this.enough) this.finish(false);
  }

  private finish(timedOut: boolean): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.resolveDone({ received: this.received, missing: [...this.pending], timedOut });
  }
}
