// The default SessionStore: sessions kept in memory (lost on restart; the SQLite store persists them).
import type { NewSession, SessionRecord, SessionStore } from '../database/session-store.js';

export class MemorySessionStore implements SessionStore {
  private readonly rows = new Map<number, SessionRecord>();
  private nextId = 1;

  insert(session: NewSession): SessionRecord {
    const record: SessionRecord = { ...session, clientKeyDigest: session.clientKeyDigest ?? null, id: this.nextId++ };
    this.rows.set(record.id, record);
    return { ...record };
  }

  findByUuidHash(containerUuidSha256: string): SessionRecord | undefined {
    for (const row of this.rows.values()) if (row.containerUuidSha256 === containerUuidSha256) return { ...row };
    return undefined;
  }

  findByContainerId(containerId: string): SessionRecord | undefined {
    for (const row of this.rows.values()) if (row.containerId === containerId) return { ...row };
    return undefined;
  }

  setState(id: number, state: SessionRecord['state']): void {
    const row = this.rows.get(id);
    if (row !== undefined) row.state = state;
  }

  deleteById(id: number): void {
    this.rows.delete(id);
  }

  list(): SessionRecord[] {
    return [...this.rows.values()].map((row) => ({ ...row }));
  }

  count(): number {
    return this.rows.size;
  }

  countByClient(clientKeyDigest: string): number {
    let count = 0;
    for (const row of this.rows.values()) if (row.clientKeyDigest === clientKeyDigest) count++;
    return count;
  }
}
