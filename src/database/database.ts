// One SQLite file for the daemon (sessions, access tokens, FL state), with per-module migrations.
import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type SqliteHandle = BetterSqlite3.Database;

export class AnweddolDatabase {
  readonly db: SqliteHandle;

  /** `filePath` may be ':memory:' for tests. */
  constructor(readonly filePath: string) {
    if (filePath !== ':memory:') mkdirSync(dirname(filePath), { recursive: true, mode: 0o750 });
    this.db = new BetterSqlite3(filePath);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS migrations (
      namespace TEXT NOT NULL,
      version INTEGER NOT NULL,
      applied_at INTEGER NOT NULL,
      PRIMARY KEY (namespace, version)
    )`);
  }

  /**
   * Applies, in order and once each, the SQL steps of one module (`namespace`, e.g. 'sessions').
   * Step i has version i+1; never edit a released step, append a new one.
   */
  migrate(namespace: string, steps: readonly string[]): void {
    const row = this.db
      .prepare('SELECT MAX(version) AS v FROM migrations WHERE namespace = ?')
      .get(namespace) as { v: number | null };
    const done = row.v ?? 0;
    const record = this.db.prepare('INSERT INTO migrations (namespace, version, applied_at) VALUES (?, ?, ?)');
    for (let i = done; i < steps.length; i++) {
      this.db.transaction(() => {
        this.db.exec(steps[i]!);
        record.run(namespace, i + 1, Date.now());
      })();
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
