import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SessionCipher } from '../../../src/crypto/session-cipher.js';

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const IV = Buffer.from(Array.from({ length: 16 }, (_, i) => 0xa0 + i));

describe('SessionCipher', () => {
  it('encrypts the docs/protocol.md §5 vector text to the documented P', () => {
    const p = new SessionCipher(KEY, IV).encrypt(Buffer.from('{"verb": "STAT", "parameters": {}}'));
    assert.equal(p.toString('hex'), 'e7cc1c24acbbdcd0b5bd36f464a48cf474b7caa3240346b84533ef3475755d4bf41f034f046621ca03e839f9a367b0c5');
  });

  it('pads with PKCS#7 so a full block gains a whole block', () => {
    assert.equal(new SessionCipher(KEY, IV).encrypt(Buffer.alloc(16)).length, 32);
    assert.equal(new SessionCipher(KEY, IV).encrypt(Buffer.alloc(0)).length, 16);
  });

  it('decrypts only under the same IV', () => {
    const c = new SessionCipher(KEY, IV);
    const secret = c.encrypt(Buffer.from('secret'));
    assert.equal(c.decrypt(secret).toString(), 'secret');
    c.rotate(randomBytes(16));
    assert.notEqual(safeDecrypt(c, secret), 'secret');
  });

  it('builds from the 48-byte handshake blob (key then IV)', () => {
    const c = SessionCipher.fromKeyMaterial(Buffer.concat([KEY, IV]));
    assert.deepEqual(c.iv, IV);
  });

  it('rejects keys, IVs and blobs of the wrong size', () => {
    assert.throws(() => new SessionCipher(Buffer.alloc(16), IV), RangeError);
    assert.throws(() => new SessionCipher(KEY, Buffer.alloc(8)), RangeError);
    assert.throws(() => SessionCipher.fromKeyMaterial(Buffer.alloc(47)), RangeError);
    assert.throws(() => new SessionCipher(KEY, IV).rotate(Buffer.alloc(15)), RangeError);
  });
});

function safeDecrypt(c: SessionCipher, data: Buffer): string | undefined {
  try {
    return c.decrypt(data).toString();
  } catch {
    return undefined;
  }
}
