import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { sha256Hex } from '../../../src/crypto/hash.js';
import { clientId, clientInfo } from '../../../src/server/client-info.js';

describe('client ids', () => {
  const key = randomBytes(32);

  it('is 12 lowercase hex characters', () => {
    assert.match(clientId('203.0.113.9', key), /^[0-9a-f]{12}$/);
  });

  it('is stable for one key', () => {
    assert.equal(clientId('203.0.113.9', key), clientId('203.0.113.9', Buffer.from(key)));
  });

  it('differs across keys for the same address', () => {
    assert.notEqual(clientId('203.0.113.9', key), clientId('203.0.113.9', randomBytes(32)));
  });

  it('differs across addresses for one key', () => {
    assert.notEqual(clientId('203.0.113.9', key), clientId('203.0.113.10', key));
  });

  it('is not a prefix of the unkeyed SHA-256 of the address', () => {
    assert.equal(sha256Hex('203.0.113.9').includes(clientId('203.0.113.9', key).slice(0, 7)), false);
  });

  it('gives an IPv4-mapped address the id of the IPv4 address', () => {
    assert.equal(clientInfo('::ffff:203.0.113.9', 1, 'tcp', key).id, clientInfo('203.0.113.9', 2, 'http', key).id);
  });
});
