// Counts sandbox slots: live sessions plus creations in flight never exceed the maximum.
import type { SessionStore } from '../database/session-store.js';

export interface CapacitySlot {
  release(): void;
}

export class SandboxCapacity {
  private inFlight = 0;

  constructor(
    private readonly max: number | null,
    private readonly sessions: SessionStore,
  ) {}

  /** Free slots, or 'nolimit'. */
  available(): number | 'nolimit' {
    if (this.max === null) return 'nolimit';
    return Math.max(0, this.max - this.sessions.count() - this.inFlight);
  }

  /** Synchronous so two concurrent CREATEs cannot both take the last slot. */
  tryReserve(): CapacitySlot | undefined {
    if (this.max !== null && this.sessions.count() + this.inFlight >= this.max) return undefined;
    this.inFlight++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
      },
    };
  }
}
