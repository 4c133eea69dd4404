// Access tokens (docs/protocol.md §4) in the daemon's SQLite file: only SHA-256 hashes are stored.
import { constantTimeHexEqual, sha256Hex } from '../crypto/hash.js';
import { generateAccessToken } from '../crypto/tokens.js';
import type { AnweddolDatabase } from './database.js';

export interface AccessTokenEntry {
  id: number;
  /** Unix milliseconds. */
  createdAt: number;
  enabled: boolean;
}

interface Row {
  id: number;
  created_at: number;
  enabled: number;
}

const MIGRATIONS = [
  `CREATE TABLE access_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    enabled INTEGER NOT NULL DEFAULT 1
  )`,
];

export class AccessTokenStore {
  private readonly statements;

  constructor(database: AnweddolDatabase) {
    database.migrate('access_tokens', MIGRATIONS);
    const db = database.db;
    this.statements = {
      insert: db.prepare('INSERT INTO access_tokens (created_at, token_sha256, enabled) VALUES (?, ?, ?)'),
      list: db.prepare('SELECT id, created_at, enabled FROM access_tokens ORDER BY id'),
      get: db.prepare('SELECT id, created_at, enabled FROM access_tokens WHERE id = ?'),
      enabledHashes: db.prepare('SELECT token_sha256 FROM access_tokens WHERE enabled = 1').pluck(),
      remove: db.prepare('DELETE FROM access_tokens WHERE id = ?'),
      setEnabled: db.prepare('UPDATE access_tokens SET enabled = ? WHERE id = ?'),
    };
  }

  /** Creates a token; the clear value is returned here once and never stored. */
  add(options: { enabled?: boolean } = {}): { entry: AccessTokenEntry; token: string } {
    const token = generateAccessToken();
    const createdAt = Date.now();
    const enabled = options.enabled ?? true;
    const result = this.statements.insert.run(createdAt, sha256Hex(token), enabled ? 1 : 0);
    return { entry: { id: Number(result.lastInsertRowid), createdAt, enabled }, token };
  }

  list(): AccessTokenEntry[] {
    return (this.statements.list.all() as Row[]).map(toEntry);
  }

  get(id: number): AccessTokenEntry | undefined {
    const row = this.statements.get.get(id) as Row | undefined;
    return row && toEntry(row);
  }

  /** False when no such entry exists. */
  delete(id: number): boolean {
    return this.statements.remove.run(id).changes > 0;
  }

  /** False when no such entry exists. */
  setEnabled(id: number, enabled: boolean): boolean {
    return this.statements.setEnabled.run(enabled ? 1 : 0, id).changes > 0;
  }

  /** True when `token` matches an enabled entry; every enabled hash is compared in constant time. */
  verify(token: string): boolean {
    const candidate = sha256Hex(token);
    let match = false;
    for (const hash of this.statements.enabledHashes.all() as string[]) {
      if (constantTimeHexEqual(candidate, hash)) match = true;
    }
    return match;
  }
}

function toEntry(row: Row): AccessTokenEntry {
  return { id: row.id, createdAt: row.created_at, enabled: row.enabled === 1 };
}
