// RSA public keys of any size or exponent, built from random bytes instead of key generation (a 9000-bit keygen takes minutes).
import { createPublicKey, randomBytes } from 'node:crypto';

function base64url(value: bigint | Buffer): string {
  if (Buffer.isBuffer(value)) return value.toString('base64url');
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex').toString('base64url');
}

/** A SubjectPublicKeyInfo PEM whose modulus is exactly `bits` long (odd, not a real RSA modulus: parsing never checks). */
export function craftedRsaPublicKeyPem(bits: number, exponent = 65537n): Buffer {
  const modulus = randomBytes(Math.ceil(bits / 8));
  const topBits = bits % 8 === 0 ? 8 : bits % 8;
  modulus[0] = (modulus[0]! & ((1 << topBits) - 1)) | (1 << (topBits - 1));
  modulus[modulus.length - 1]! |= 1;
  const key = createPublicKey({ key: { kty: 'RSA', n: base64url(modulus), e: base64url(exponent) }, format: 'jwk' });
  return Buffer.from(key.export({ type: 'spki', format: 'pem' }).toString(), 'ascii');
}
