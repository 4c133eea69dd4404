// RSA-OAEP with SHA-256 and MGF1-SHA256, empty label: the key-exchange cipher of docs/protocol.md §1.2.
import { constants, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';

export function oaepEncrypt(publicKey: KeyObject, plaintext: Buffer): Buffer {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, plaintext);
}

export function oaepDecrypt(privateKey: KeyObject, ciphertext: Buffer): Buffer {
  return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, ciphertext);
}

/** Modulus size in bytes, i.e. the exact OAEP ciphertext length for this key. */
export function modulusBytes(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined) throw new Error('not an RSA key');
  return Math.ceil(bits / 8);
}
