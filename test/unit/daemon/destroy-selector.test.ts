import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { destroySelector } from '../../../src/daemon/admin-methods.js';

const UUID = '6f1c0a8e-1b2c-4d3e-8f40-0123456789ab';

describe('the destroy admin method parameters', () => {
  it('reads each of the four selectors', () => {
    assert.deepEqual(destroySelector({ uuid: UUID }), { uuid: UUID });
    assert.deepEqual(destroySelector({ client_id: 'abc1234' }), { clientId: 'abc1234' });
    assert.deepEqual(destroySelector({ expired: true }), { expired: true });
    assert.deepEqual(destroySelector({ all: true }), { all: true });
  });

  it('refuses no selector, and two at once', () => {
    assert.throws(() => destroySelector({}), /exactly one of uuid, session_id, client_id, expired, all/);
    assert.throws(() => destroySelector({ uuid: UUID, all: true }), /exactly one/);
  });

  it('refuses a uuid that is not the lowercase form clients get', () => {
    assert.throws(() => destroySelector({ uuid: UUID.toUpperCase() }), /uuid must be a lowercase UUID/);
    assert.throws(() => destroySelector({ uuid: 42 }), /uuid must be a lowercase UUID/);
  });

  it('reads a session id as stat lists it', () => {
    assert.deepEqual(destroySelector({ session_id: 7 }), { sessionId: 7 });
  });

  it('refuses a session id that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, '7']) assert.throws(() => destroySelector({ session_id: bad }), /session_id must be a session id/);
  });

  it('refuses a client id with characters no client id has', () => {
    assert.throws(() => destroySelector({ client_id: 'abc 1234' }), /client_id must be a client id/);
  });
});
