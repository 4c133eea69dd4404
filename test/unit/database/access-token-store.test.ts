import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AnweddolDatabase } from '../../../src/database/database.js';
import { AccessTokenStore } from '../../../src/database/access-token-store.js';
import { sha256Hex } from '../../../src/crypto/hash.js';

describe('AccessTokenStore', () => {
  let database: AnweddolDatabase;
  let store: AccessTokenStore;
  beforeEach(() => {
    database = new AnweddolDatabase(':memory:');
    store = new AccessTokenStore(database);
  });
  afterEach(() => database.close());

  it('creates a 124-char url-safe token that verifies', () => {
    const { entry, token } = store.add();
    assert.match(token, /^[0-9a-zA-Z_-]{124}$/);
    assert.equal(entry.enabled, true);
    assert.equal(store.verify(token), true);
  });

  it('stores only the sha256 of the token', () => {
    const { token } = store.add();
    const rows = database.db.prepare('SELECT * FROM access_tokens').all() as Record<string, unknown>[];
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.token_sha256, sha256Hex(token));
    assert.ok(!JSON.stringify(rows).includes(token));
  });

  it('refuses an unknown token', () => {
    store.add();
    assert.equal(store.verify('x'.repeat(124)), false);
  });

  it('refuses a token created disabled until it is enabled', () => {
    const { entry, token } = store.add({ enabled: false });
    assert.equal(store.verify(token), false);
    assert.equal(store.setEnabled(entry.id, true), true);
    assert.equal(store.verify(token), true);
  });

  it('refuses a token once disabled or deleted', () => {
    const a = store.add();
    const b = store.add();
    store.setEnabled(a.entry.id, false);
    assert.equal(store.verify(a.token), false);
    assert.equal(store.delete(b.entry.id), true);
    assert.equal(store.verify(b.token), false);
  });

  it('lists entries without their tokens', () => {
    store.add();
    store.add({ enabled: false });
    const list = store.list();
    assert.deepEqual(list.map((e) => [e.id, e.enabled]), [[1, true], [2, false]]);
    assert.deepEqual(Object.keys(list[0]!).sort(), ['createdAt', 'enabled', 'id']);
  });

  it('reports false when deleting or toggling an unknown id', () => {
    assert.equal(store.delete(42), false);
    assert.equal(store.setEnabled(42, true), false);
    assert.equal(store.get(42), undefined);
  });
});
