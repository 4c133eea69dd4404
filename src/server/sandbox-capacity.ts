// Counts sandbox slots: live sessions plus sandboxes claimed by this process (creations in flight,
// FL clients) never exceed the maximum; a claimed sandbox is never taken for an orphan by reconciliation.
import type { SessionStore } from '../database/session-store.js';

export interface CapacitySlot {
  release(): void;
}

export class SandboxCapacity {
  /** Sandbox uuids holding a slot without a session row. */
  private readonly claimed = new Set<string>();

  constructor(
    private readonly max: number | null,
    private readonly sessions: SessionStore,
  ) {}

  /** Free slots, or 'nolimit'. */
  available(): number | 'nolimit' {
    if (this.max === null) return 'nolimit';
    return Math.max(0, this.max - this.sessions.count() - this.claimed.size);
  }

  /** Synchronous so two concurrent CREATEs cannot both take the last slot. `sandboxUuid` is the sandbox the slot is for. */
  tryReserve(sandboxUuid: string): CapacitySlot | undefined {
    if (this.claimed.has(sandboxUuid)) throw new Error('sandbox uuid already holds a slot');
    if (this.max !== null && this.sessions.count() + this.claimed.size >= this.max) return undefined;
    this.claimed.add(sandboxUuid);
    return { release: () => void this.claimed.delete(sandboxUuid) };
  }

  /** True while a slot is held for this sandbox (its creation is in flight, or an FL training uses it). */
  isClaimed(sandboxUuid: string): boolean {
    return this.claimed.has(sandboxUuid);
  }
}
