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
];

const COLUMNS = 'id, created_at, container_uuid_sha256, client_token_sha256, container_id, port, state';

function toRecord(row: Row): SessionRecord {
  return {
    id: row.id,
    createdAt: row.created_at,
    containerUuidSha256: row.container_uuid_sha256,
    clientTokenSha256: row.client_token_sha256,
    containerId: row.container_id,
    port: row.port,
    state: row.state as SessionRecord['state'],
  };
}

export class SqliteSessionStore implements SessionStore {
  private readonly statements;

  constructor(database: AnweddolDatabase) {
    database.migrate('sessions', MIGRATIONS);
    const db = database.db;
    this.statements = {
      insert: db.prepare(
        `INSERT INTO sessions (created_at, container_uuid_sha256, client_token_sha256, container_id, port, state)
         VALUES (@createdAt, @containerUuidSha256, @clientTokenSha256, @containerId, @port, @state)`,
      ),
      byUuidHash: db.prepare(`SELECT ${COLUMNS} FROM sessions WHERE container_uuid_sha256 = ?`),
      byContainerId: db.prepare(`SELECT ${COLUMNS} FROM sessions WHERE container_id = ?`),
      setState: db.prepare('UPDATE sessions SET state = ? WHERE id = ?'),
      deleteById: db.prepare('DELETE FROM sessions WHERE id = ?'),
      list: db.prepare(`SELECT ${COLUMNS} FROM sessions ORDER BY id`),
      count: db.prepare('SELECT COUNT(*) FROM sessions').pluck(),
    };
  }

  insert(session: NewSession): SessionRecord {
    const result = this.statements.insert.run(session);
    return { ...session, id: Number(result.lastInsertRowid) };
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
}
