// Live sandbox sessions in the daemon's SQLite file, so a restarted server still knows (and can reconcile) its sandboxes.
import type { AnweddolDatabase } from './database.js';
import type { NewSession, SessionRecord, SessionStore } from './session-store.js';

interface Row {
  id: number;
  created_at: number;
  container_uuid_sha256: string;
  client_token_sha256: string;
  container_id: string;
  port: number;
  state: string;
  client_key_hmac: string | null;
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
];

const COLUMNS = 'id, created_at, container_uuid_sha256, client_token_sha256, container_id, port, state, client_key_hmac';

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
  };
}

export class SqliteSessionStore implements SessionStore {
  private readonly statements;

  constructor(database: AnweddolDatabase) {
    database.migrate('sessions', MIGRATIONS);
    const db = database.db;
    this.statements = {
      insert: db.prepare(
        `INSERT INTO sessions (created_at, container_uuid_sha256, client_token_sha256, container_id, port, state, client_key_hmac)
         VALUES (@createdAt, @containerUuidSha256, @clientTokenSha256, @containerId, @port, @state, @clientKeyDigest)`,
      ),
      byUuidHash: db.prepare(`SELECT ${COLUMNS} FROM sessions WHERE container_uuid_sha256 = ?`),
      byContainerId: db.prepare(`SELECT ${COLUMNS} FROM sessions WHERE container_id = ?`),
      setState: db.prepare('UPDATE sessions SET state = ? WHERE id = ?'),
      deleteById: db.prepare('DELETE FROM sessions WHERE id = ?'),
      list: db.prepare(`SELECT ${COLUMNS} FROM sessions ORDER BY id`),
      count: db.prepare('SELECT COUNT(*) FROM sessions').pluck(),
      countByClient: db.prepare('SELECT COUNT(*) FROM sessions WHERE client_key_hmac = ?').pluck(),
    };
  }

  insert(session: NewSession): SessionRecord {
    const record = { ...session, clientKeyDigest: session.clientKeyDigest ?? null };
    const result = this.statements.insert.run(record);
    return { ...record, id: Number(result.lastInsertRowid) };
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
