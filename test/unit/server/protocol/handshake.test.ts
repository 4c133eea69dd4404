import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { oaepDecrypt } from '../../../../src/crypto/rsa-oaep.js';
import { checkAesKeyMaterial, isAck, parseClientPublicKey, sealKeyMaterialForClient } from '../../../../src/server/protocol/handshake.js';
import { ProtocolViolation } from '../../../../src/server/protocol/protocol-violation.js';
import { craftedRsaPublicKeyPem } from '../../../helpers/crafted-rsa-key.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spki = (key: typeof rsa.publicKey) => Buffer.from(key.export({ type: 'spki', format: 'pem' }).toString(), 'ascii');

describe('handshake steps', () => {
  it('accepts an RSA SubjectPublicKeyInfo PEM', () => {
    assert.equal(parseClientPublicKey(spki(rsa.publicKey)).asymmetricKeyDetails?.modulusLength, 2048);
  });

  it('rejects an EC key', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(() => parseClientPublicKey(spki(ec.publicKey)), /not RSA/);
  });

  it('rejects a PKCS#1 RSA PEM, a private key, a truncated PEM and garbage', () => {
    const pkcs1 = Buffer.from(rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString());
    const priv = Buffer.from(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const full = spki(rsa.publicKey);
    for (const bad of [pkcs1, priv, full.subarray(0, 200), Buffer.from('hello, world'), randomBytes(400)]) {
      assert.throws(() => parseClientPublicKey(bad), ProtocolViolation);
    }
  });

  it('rejects a well-formed PEM whose base64 is not a key', () => {
    const fake = Buffer.from(`-----BEGIN PUBLIC KEY-----\n${randomBytes(270).toString('base64')}\n-----END PUBLIC KEY-----\n`);
    assert.throws(() => parseClientPublicKey(fake), /does not parse/);
  });

  it('rejects an RSA key smaller than 2048 bits', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    assert.throws(() => parseClientPublicKey(spki(small.publicKey)), /out of range/);
  });

  it('accepts an RSA key of exactly 8192 bits', () => {
    assert.equal(parseClientPublicKey(craftedRsaPublicKeyPem(8192)).asymmetricKeyDetails?.modulusLength, 8192);
  });

  it('rejects an RSA key above 8192 bits', () => {
    assert.throws(() => parseClientPublicKey(craftedRsaPublicKeyPem(8200)), /size 8200 is out of range/);
  });

  it('rejects an RSA key whose public exponent is 2^32 or more', () => {
    assert.throws(() => parseClientPublicKey(craftedRsaPublicKeyPem(2048, 2n ** 32n + 1n)), /exponent is out of range/);
  });

  it('accepts exactly 48 bytes of AES key material and nothing else', () => {
    assert.equal(checkAesKeyMaterial(Buffer.alloc(48)).length, 48);
    assert.throws(() => checkAesKeyMaterial(Buffer.alloc(47)), ProtocolViolation);
    assert.throws(() => checkAesKeyMaterial(Buffer.alloc(64)), ProtocolViolation);
  });

  it('echoes the key material encrypted to the client key', () => {
    const material = randomBytes(48);
    const sealed = sealKeyMaterialForClient(rsa.publicKey, material);
    assert.equal(sealed.length, 256);
    assert.deepEqual(oaepDecrypt(rsa.privateKey, sealed), material);
  });

  it('treats only the ASCII byte 1 as an acknowledgement', () => {
    assert.equal(isAck(Buffer.from('1')), true);
    for (const other of ['0', '11', '', 'y']) assert.equal(isAck(Buffer.from(other)), false);
  });
});
