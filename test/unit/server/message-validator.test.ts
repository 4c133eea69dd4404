import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateRequest, validateResponse } from '../../../src/server/message-validator.js';

const UUID = '6f1c0a8e-1b2c-4d3e-8f40-0123456789ab';
const TOKEN = 'aZ09_-'.repeat(42) + 'abc';
const CREATE_DATA = {
  container_uuid: UUID,
  client_token: TOKEN,
  container_iso_sha256: 'a'.repeat(64),
  container_username: 'user_12345',
  container_password: 'Ab1'.repeat(40),
  container_listen_port: 10022,
};

describe('request validation (docs/protocol.md §2)', () => {
  it('accepts a DESTROY with a lowercase uuid and a 255-char token', () => {
    assert.equal(TOKEN.length, 255);
    assert.equal(validateRequest({ verb: 'DESTROY', parameters: { container_uuid: UUID, client_token: TOKEN } }).ok, true);
  });

  it('names the rule a request broke without echoing the value', () => {
    const result = validateRequest({ verb: 'DESTROY', parameters: { container_uuid: UUID, client_token: TOKEN.slice(1) } });
    assert.deepEqual(result, { ok: false, reason: 'Invalid parameters.client_token' });
  });

  it('ties container_uuid and client_token together in both directions', () => {
    assert.deepEqual(validateRequest({ verb: 'STAT', parameters: { client_token: TOKEN } }), { ok: false, reason: 'client_token requires container_uuid' });
    assert.deepEqual(validateRequest({ verb: 'STAT', parameters: { container_uuid: UUID } }), { ok: false, reason: 'container_uuid requires client_token' });
  });

  it('requires a string access_token when one is given', () => {
    assert.equal(validateRequest({ verb: 'STAT', parameters: { access_token: ['x'] } }).ok, false);
    assert.equal(validateRequest({ verb: 'STAT', parameters: { access_token: 'x' } }).ok, true);
  });

  it('requires both credentials for RENEW', () => {
    assert.equal(validateRequest({ verb: 'RENEW', parameters: { container_uuid: UUID, client_token: TOKEN } }).ok, true);
    assert.deepEqual(validateRequest({ verb: 'RENEW', parameters: {} }), { ok: false, reason: 'Missing container_uuid' });
  });

  it('rejects verbs outside ^[A-Z]+$', () => {
    for (const verb of ['', 'Stat', 'STAT1', 'ST AT', 7]) assert.equal(validateRequest({ verb, parameters: {} }).ok, false, String(verb));
  });
});

describe('response validation', () => {
  it('accepts a full CREATE answer and rejects one missing a key', () => {
    assert.equal(validateResponse('CREATE', { success: true, message: 'OK', data: CREATE_DATA }).ok, true);
    const { container_listen_port: _port, ...missing } = CREATE_DATA;
    assert.equal(validateResponse('CREATE', { success: true, message: 'OK', data: missing }).ok, false);
  });

  it('rejects a CREATE answer with an uppercase image hash or a port out of range', () => {
    assert.equal(validateResponse('CREATE', { success: true, message: 'OK', data: { ...CREATE_DATA, container_iso_sha256: 'A'.repeat(64) } }).ok, false);
    assert.equal(validateResponse('CREATE', { success: true, message: 'OK', data: { ...CREATE_DATA, container_listen_port: 70000 } }).ok, false);
  });

  it('accepts failure messages with a reason and rejects unknown messages', () => {
    assert.equal(validateResponse('X', { success: false, message: 'Unavailable (Docker is down)', data: {} }).ok, true);
    assert.equal(validateResponse('X', { success: false, message: 'Nope', data: {} }).ok, false);
    assert.equal(validateResponse('X', { success: true, message: 'Bad request', data: {} }).ok, false);
    assert.equal(validateResponse('X', { success: false, message: 'OK', data: {} }).ok, false);
  });

  it('accepts a CREATE answer with expires_at in Unix seconds or null, and rejects an ISO date', () => {
    for (const expires_at of [1_700_000_000, null]) {
      assert.equal(validateResponse('CREATE', { success: true, message: 'OK', data: { ...CREATE_DATA, expires_at } }).ok, true);
    }
    assert.equal(validateResponse('CREATE', { success: true, message: 'OK', data: { ...CREATE_DATA, expires_at: '2026-01-01T00:00:00Z' } }).ok, false);
  });

  it('requires expires_at in a RENEW answer', () => {
    assert.equal(validateResponse('RENEW', { success: true, message: 'OK', data: { expires_at: 1_700_000_000 } }).ok, true);
    assert.equal(validateResponse('RENEW', { success: true, message: 'OK', data: {} }).ok, false);
  });

  it('accepts STAT data with "nolimit" and rejects a negative uptime', () => {
    assert.equal(validateResponse('STAT', { success: true, message: 'OK', data: { version: '1', uptime: 0, available: 'nolimit' } }).ok, true);
    assert.equal(validateResponse('STAT', { success: true, message: 'OK', data: { version: '1', uptime: -1, available: 2 } }).ok, false);
  });
});
