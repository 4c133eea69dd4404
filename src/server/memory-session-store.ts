// The default SessionStore: sessions kept in memory (lost on restart; the SQLite store persists them).
import { withSessionDefaults, type NewSession, type SessionRecord, type SessionStore } from '../database/session-store.js';

export class MemorySessionStore implements SessionStore {
  private readonly rows = new Map<number, SessionRecord>();
  private nextId = 1;

  insert(session: NewSession): SessionRecord {
    const record: SessionRecord = { ...withSessionDefaults(session), id: this.nextId++ };
    this.rows.set(record.id, record);
    return { ...record };
  }

  findById(id: number): SessionRecord | undefined {
    const row = this.rows.get(id);
    return row === undefined ? undefined : { ...row };
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

  setExpiresAt(id: number, expiresAt: number | null): void {
    const row = this.rows.get(id);
    if (row !== undefined) row.expiresAt = expiresAt;
  }

  setIdleSince(id: number, idleSince: number | null): void {
    const row = this.rows.get(id);
    if (row !== undefined) row.idleSince = idleSince;
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
