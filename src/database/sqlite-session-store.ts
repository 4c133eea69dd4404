// Live sandbox sessions in the daemon's SQLite file, so a restarted server still knows (and can reconcile) its sandboxes.
import type { AnweddolDatabase } from './database.js';
import { withSessionDefaults, type NewSession, type SessionRecord, type SessionStore } from './session-store.js';

interface Row {
  id: number;
  created_at: number;
  container_uuid_sha256: string;
  client_token_sha256: string;
  container_id: string;
  port: number;
  state: string;
  client_key_hmac: string | null;
  client_id: string;
  expires_at: number | null;
  idle_since: number | null;
}

const MIGRATIONS = [
  `CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    container_uuid_sha256 TEXT NOT NULL UNIQUE CHECK (length(container_uuid_sha256) = 64),
    client_token_sha256 TEXT NOT NULL CHECK (length(client_token_sha256) = 64),
    container_id TEXT NOT NULL UNIQUE,
    port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    state TEXT NOT NULL CHECK (state IN ('running', 'destroying'))
  )`,
  // Per-client limits: an HMAC of the client key, never the address; rows from before stay NULL (counted for nobody).
  `ALTER TABLE sessions ADD COLUMN client_key_hmac TEXT CHECK (client_key_hmac IS NULL OR length(client_key_hmac) = 64);
   CREATE INDEX sessions_by_client_key_hmac ON sessions (client_key_hmac)`,
  // Lifetimes: who created it (for `destroy --client`), its deadline, and since when it has been idle.
  `ALTER TABLE sessions ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
   ALTER TABLE sessions ADD COLUMN expires_at INTEGER;
   ALTER TABLE sessions ADD COLUMN idle_since INTEGER;`,
];

const COLUMNS = 'id, created_at, container_uuid_sha256, client_token_sha256, container_id, port, state, client_key_hmac, client_id, expires_at, idle_since';

function toRecord(row: Row): SessionRecord {
  return {
    id: row.id,
    createdAt: row.created_at,
    containerUuidSha256: row.container_uuid_sha256,
    clientTokenSha256: row.client_token_sha256,
    containerId: row.container_id,
    port: row.port,
    state: row.state as SessionRecord['state'],
    clientKeyDigest: row.client_key_hmac,
    clientId: row.client_id,
    expiresAt: row.expires_at,
    idleSince: row.idle_since,
  };
}

export class SqliteSessionStore implements SessionStore {
  private readonly statements;

  constructor(database: AnweddolDatabase) {
    database.migrate('sessions', MIGRATIONS);
    const db = database.db;
    this.statements = {
      insert: db.prepare(
        `INSERT INTO sessions (created_at, container_uuid_sha256, client_token_sha256, container_id, port, state, client_key_hmac, client_id, expires_at, idle_since)
         VALUES (@createdAt, @containerUuidSha256, @clientTokenSha256, @containerId, @port, @state, @clientKeyDigest, @clientId, @expiresAt, @idleSince)`,
      ),
      byId: db.prepare(`SELECT ${COLUMNS} FROM sessions WHERE id = ?`),
      byUuidHash: db.prepare(`SELECT ${COLUMNS} FROM sessions WHERE container_uuid_sha256 = ?`),
      byContainerId: db.prepare(`SELECT ${COLUMNS} FROM sessions WHERE container_id = ?`),
      setState: db.prepare('UPDATE sessions SET state = ? WHERE id = ?'),
      setExpiresAt: db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ?'),
      setIdleSince: db.prepare('UPDATE sessions SET idle_since = ? WHERE id = ?'),
      deleteById: db.prepare('DELETE FROM sessions WHERE id = ?'),
      list: db.prepare(`SELECT ${COLUMNS} FROM sessions ORDER BY id`),
      count: db.prepare('SELECT COUNT(*) FROM sessions').pluck(),
      countByClient: db.prepare('SELECT COUNT(*) FROM sessions WHERE client_key_hmac = ?').pluck(),
    };
  }

  insert(session: NewSession): SessionRecord {
    const full = withSessionDefaults(session);
    const result = this.statements.insert.run(full);
    return { ...full, id: Number(result.lastInsertRowid) };
  }

  findById(id: number): SessionRecord | undefined {
    const row = this.statements.byId.get(id) as Row | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  findByUuidHash(containerUuidSha256: string): SessionRecord | undefined {
    const row = this.statements.byUuidHash.get(containerUuidSha256) as Row | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  findByContainerId(containerId: string): SessionRecord | undefined {
    const row = this.statements.byContainerId.get(containerId) as Row | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  setState(id: number, state: SessionRecord['state']): void {
    this.statements.setState.run(state, id);
  }

  setExpiresAt(id: number, expiresAt: number | null): void {
    this.statements.setExpiresAt.run(expiresAt, id);
  }

  setIdleSince(id: number, idleSince: number | null): void {
    this.statements.setIdleSince.run(idleSince, id);
  }

  deleteById(id: number): void {
    this.statements.deleteById.run(id);
  }

  list(): SessionRecord[] {
    return (this.statements.list.all() as Row[]).map(toRecord);
  }

  count(): number {
    return this.statements.count.get() as number;
  }

  countByClient(clientKeyDigest: string): number {
    return this.statements.countByClient.get(clientKeyDigest) as number;
  }
}
