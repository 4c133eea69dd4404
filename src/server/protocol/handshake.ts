// Key exchange of docs/protocol.md §1.2 as pure steps over Buffers; the connection only moves bytes.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { oaepEncrypt } from '../../crypto/rsa-oaep.js';
import { AES_IV_BYTES, AES_KEY_BYTES } from '../../crypto/session-cipher.js';
import { ProtocolViolation } from './protocol-violation.js';

export const ACK = Buffer.from('1', 'ascii');
export const NACK = Buffer.from('0', 'ascii');
export const AES_KEY_MATERIAL_BYTES = AES_KEY_BYTES + AES_IV_BYTES;
export const DEFAULT_MAX_KEY_LENGTH = 16 * 1024;
export const MIN_CLIENT_RSA_BITS = 2048;
// Encrypting to the client key runs on the event loop: its cost grows with the square of the modulus and with the
// exponent's length, so both are bounded (8192 bits; e below 2^32, where every real client uses 65537).
export const MAX_CLIENT_RSA_BITS = 8192;
export const MAX_CLIENT_RSA_EXPONENT = 2n ** 32n;

/** Connection states, in protocol order (server side). */
export type HandshakeState =
  | 'AwaitingKeyLength'
  | 'AwaitingClientKey'
  | 'AwaitingServerKeyLengthAck'
  | 'AwaitingServerKeyAck'
  | 'AwaitingAesKey'
  | 'AwaitingAesKeyAck'
  | 'AwaitingRequestHeader'
  | 'AwaitingRequestBody'
  | 'Dispatching'
  | 'AwaitingResponseAck'
  | 'Closed';

export function isAck(byte: Buffer): boolean {
  return byte.length === 1 && byte[0] === ACK[0];
}

const SPKI_PEM = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\r?\n?$/;

// Clients usually keep one key pair, and parsing an RSA PEM costs ~0.3 ms of event-loop time: remember recent ones.
const KEY_CACHE_SIZE = 256;
const recentKeys = new Map<string, KeyObject>();

/** Step 3: the client's SubjectPublicKeyInfo PEM → an RSA public key of a sane size. */
export function parseClientPublicKey(pem: Buffer): KeyObject {
  const text = pem.toString('latin1');
  const cached = recentKeys.get(text);
  if (cached !== undefined) return cached;
  const key = parseUncachedClientPublicKey(text);
  if (recentKeys.size >= KEY_CACHE_SIZE) recentKeys.delete(recentKeys.keys().next().value!);
  recentKeys.set(text, key);
  return key;
}

function parseUncachedClientPublicKey(text: string): KeyObject {
  if (!SPKI_PEM.test(text)) throw new ProtocolViolation('client key is not a SubjectPublicKeyInfo PEM');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw new ProtocolViolation('client key PEM does not parse');
  }
  if (key.asymmetricKeyType !== 'rsa') throw new ProtocolViolation(`client key is ${key.asymmetricKeyType ?? 'unknown'}, not RSA`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_CLIENT_RSA_BITS || bits > MAX_CLIENT_RSA_BITS) throw new ProtocolViolation(`client RSA key size ${bits} is out of range`);
  const exponent = key.asymmetricKeyDetails?.publicExponent ?? 0n;
  if (exponent >= MAX_CLIENT_RSA_EXPONENT) throw new ProtocolViolation('client RSA public exponent is out of range');
  return key;
}

/** Step 10: the decrypted blob must be exactly AES key (32) + IV (16). */
export function checkAesKeyMaterial(material: Buffer): Buffer {
  if (material.length !== AES_KEY_MATERIAL_BYTES) {
    throw new ProtocolViolation(`AES key material is ${material.length} bytes, not ${AES_KEY_MATERIAL_BYTES}`);
  }
  return material;
}

/** Step 11: echo the key material back, encrypted to the client's key. */
export function sealKeyMaterialForClient(clientKey: KeyObject, material: Buffer): Buffer {
  return oaepEncrypt(clientKey, material);
}
