// SqliteSessionStore over a real SQLite file: the SessionStore contract, persistence and constraints.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sha256Hex } from '../../../src/crypto/hash.js';
import { AnweddolDatabase } from '../../../src/database/database.js';
import { withSessionDefaults, type NewSession } from '../../../src/database/session-store.js';
import { SqliteSessionStore } from '../../../src/database/sqlite-session-store.js';

const dir = mkdtempSync(join(tmpdir(), 'anweddol-sessions-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function session(n: number, overrides: Partial<NewSession> = {}): NewSession {
  return {
    createdAt: 1_700_000_000_000 + n,
    containerUuidSha256: sha256Hex(`uuid-${n}`),
    clientTokenSha256: sha256Hex(`token-${n}`),
    containerId: `container-${n}`,
    port: 10000 + n,
    state: 'running',
    clientKeyDigest: sha256Hex(`client-${n % 2}`),
    ...overrides,
  };
}

function openStore(name: string): { db: AnweddolDatabase; store: SqliteSessionStore } {
  const db = new AnweddolDatabase(join(dir, name));
  return { db, store: new SqliteSessionStore(db) };
}

describe('SqliteSessionStore', () => {
  it('returns the inserted session with a new id', () => {
    const { db, store } = openStore('insert.db');
    const a = store.insert(session(1));
    const b = store.insert(session(2));
    assert.deepEqual(a, { ...withSessionDefaults(session(1)), id: a.id });
    assert.notEqual(a.id, b.id);
    db.close();
  });

  it('finds a session by uuid hash and by container id', () => {
    const { db, store } = openStore('find.db');
    const inserted = store.insert(session(3));
    assert.deepEqual(store.findByUuidHash(sha256Hex('uuid-3')), inserted);
    assert.deepEqual(store.findByContainerId('container-3'), inserted);
    assert.equal(store.findByUuidHash(sha256Hex('uuid-404')), undefined);
    assert.equal(store.findByContainerId('container-404'), undefined);
    db.close();
  });

  it('changes the state of a session', () => {
    const { db, store } = openStore('state.db');
    const inserted = store.insert(session(4));
    store.setState(inserted.id, 'destroying');
    assert.equal(store.findByContainerId('container-4')?.state, 'destroying');
    db.close();
  });

  it('deletes a session and counts what is left', () => {
    const { db, store } = openStore('delete.db');
    const a = store.insert(session(5));
    store.insert(session(6));
    assert.equal(store.count(), 2);
    store.deleteById(a.id);
    assert.equal(store.count(), 1);
    assert.deepEqual(store.list().map((s) => s.containerId), ['container-6']);
    store.deleteById(a.id); // deleting twice is harmless
    db.close();
  });

  it('keeps sessions across a reopen of the same file', () => {
    const first = openStore('persist.db');
    const inserted = first.store.insert(session(7));
    first.db.close();
    const second = openStore('persist.db');
    assert.deepEqual(second.store.list(), [inserted]);
    second.db.close();
  });

  it('rejects a second session for the same sandbox uuid', () => {
    const { db, store } = openStore('unique.db');
    store.insert(session(8));
    assert.throws(() => store.insert(session(8, { containerId: 'other' })), /UNIQUE/);
    assert.equal(store.count(), 1);
    db.close();
  });

  it('rejects a malformed hash, port or state', () => {
    const { db, store } = openStore('checks.db');
    assert.throws(() => store.insert(session(9, { clientTokenSha256: 'short' })), /CHECK/);
    assert.throws(() => store.insert(session(10, { port: 0 })), /CHECK/);
    assert.throws(() => store.insert(session(11, { state: 'gone' as 'running' })), /CHECK/);
    assert.equal(store.count(), 0);
    db.close();
  });

  it('stores and changes the deadline, the idle mark and the creating client', () => {
    const { db, store } = openStore('lifetimes.db');
    const inserted = store.insert(session(13, { clientId: 'abc1234', expiresAt: 1_700_000_060_000, idleSince: 1_700_000_000_000 }));
    store.setExpiresAt(inserted.id, 1_700_000_120_000);
    store.setIdleSince(inserted.id, null);
    assert.deepEqual(store.findById(inserted.id), { ...inserted, expiresAt: 1_700_000_120_000, idleSince: null });
    assert.equal(store.findById(inserted.id + 1), undefined);
    db.close();
  });

  it('upgrades a sessions table from before lifetimes, keeping its rows', () => {
    const path = join(dir, 'upgrade.db');
    const old = new AnweddolDatabase(path);
    old.migrate('sessions', [
      `CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at INTEGER NOT NULL,
        container_uuid_sha256 TEXT NOT NULL UNIQUE CHECK (length(container_uuid_sha256) = 64),
        client_token_sha256 TEXT NOT NULL CHECK (length(client_token_sha256) = 64),
        container_id TEXT NOT NULL UNIQUE,
        port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        state TEXT NOT NULL CHECK (state IN ('running', 'destroying'))
      )`,
    ]);
    old.db.prepare(`INSERT INTO sessions (created_at, container_uuid_sha256, client_token_sha256, container_id, port, state) VALUES (1, ?, ?, 'old', 10001, 'running')`).run(sha256Hex('u'), sha256Hex('t'));
    old.close();
    const { db, store } = openStore('upgrade.db');
    assert.deepEqual(store.list().map((s) => [s.containerId, s.clientId, s.expiresAt, s.idleSince]), [['old', '', null, null]]);
    db.close();
  });

  it('stores only hashes, never a clear token', () => {
    const { db, store } = openStore('hashes.db');
    store.insert(session(12));
    const columns = (db.db.prepare('PRAGMA table_info(sessions)').all() as { name: string }[]).map((c) => c.name);
    assert.deepEqual(columns, ['id', 'created_at', 'container_uuid_sha256', 'client_token_sha256', 'container_id', 'port', 'state', 'client_key_hmac', 'client_id', 'expires_at', 'idle_since']);
    db.close();
  });

  it('counts the sessions of one client by its digest', () => {
    const { db, store } = openStore('by-client.db');
    for (const n of [20, 21, 22]) store.insert(session(n));
    assert.equal(store.countByClient(sha256Hex('client-0')), 2);
    assert.equal(store.countByClient(sha256Hex('client-1')), 1);
    assert.equal(store.countByClient(sha256Hex('client-2')), 0);
    db.close();
  });

  it('rejects a client digest that is not 64 characters', () => {
    const { db, store } = openStore('digest-check.db');
    assert.throws(() => store.insert(session(23, { clientKeyDigest: '198.51.100.1' })), /CHECK/);
    db.close();
  });

  it('migrates a database made before per-client limits: old rows keep no client and count for nobody', () => {
    const path = 'migrate.db';
    const old = new AnweddolDatabase(join(dir, path));
    old.migrate('sessions', [
      `CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, created_at INTEGER NOT NULL,
        container_uuid_sha256 TEXT NOT NULL UNIQUE CHECK (length(container_uuid_sha256) = 64),
        client_token_sha256 TEXT NOT NULL CHECK (length(client_token_sha256) = 64),
        container_id TEXT NOT NULL UNIQUE, port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        state TEXT NOT NULL CHECK (state IN ('running', 'destroying')))`,
    ]);
    old.db.prepare(`INSERT INTO sessions (created_at, container_uuid_sha256, client_token_sha256, container_id, port, state)
      VALUES (1, ?, ?, 'old', 10001, 'running')`).run(sha256Hex('u'), sha256Hex('t'));
    old.close();
    const { db, store } = openStore(path);
    assert.equal(store.findByContainerId('old')?.clientKeyDigest, null);
    store.insert(session(24));
    assert.equal(store.countByClient(sha256Hex('client-0')), 1);
    db.close();
  });
});
