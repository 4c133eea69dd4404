import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantTimeHexEqual, sha256Hex } from '../../../src/crypto/hash.js';

describe('hash helpers', () => {
  it('computes the known sha256 of "abc"', () => {
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('compares hex digests: equal, different, different length', () => {
    const a = sha256Hex('a');
    assert.equal(constantTimeHexEqual(a, sha256Hex('a')), true);
    assert.equal(constantTimeHexEqual(a, sha256Hex('b')), false);
    assert.equal(constantTimeHexEqual(a, a.slice(1)), false);
  });
});
