import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ACCESS_TOKEN_PATTERN,
  CLIENT_TOKEN_PATTERN,
  SSH_PASSWORD_PATTERN,
  USERNAME_PATTERN,
  UUID4_PATTERN,
  generateAccessToken,
  generateClientToken,
  generateSshPassword,
  generateUsername,
  generateUuid,
} from '../../../src/crypto/tokens.js';

const many = <T>(n: number, f: () => T) => Array.from({ length: n }, f);

describe('token generators', () => {
  it('makes 255-char client tokens of [0-9a-zA-Z_-], all distinct', () => {
    const tokens = many(200, generateClientToken);
    for (const t of tokens) assert.match(t, CLIENT_TOKEN_PATTERN);
    assert.equal(new Set(tokens).size, tokens.length);
  });

  it('makes 124-char url-safe access tokens', () => {
    for (const t of many(100, generateAccessToken)) assert.match(t, ACCESS_TOKEN_PATTERN);
  });

  it('makes 120-char alphanumeric SSH passwords using the whole alphabet', () => {
    const passwords = many(100, () => generateSshPassword());
    for (const p of passwords) assert.match(p, SSH_PASSWORD_PATTERN);
    assert.equal(new Set(passwords.join('')).size, 62);
  });

  it('makes usernames user_ + 5 digits within 10000–90000', () => {
    for (const u of many(2000, generateUsername)) {
      assert.match(u, USERNAME_PATTERN);
      const n = Number(u.slice(5));
      assert.ok(n >= 10000 && n <= 90000, u);
    }
  });

  it('makes lowercase UUID4s', () => {
    for (const u of many(100, generateUuid)) assert.match(u, UUID4_PATTERN);
  });
});
