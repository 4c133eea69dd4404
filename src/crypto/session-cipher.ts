// AES-256-CBC/PKCS#7 with the IV chaining of docs/protocol.md §1.3: every message moves the IV forward.
import { createCipheriv, createDecipheriv } from 'node:crypto';

export const AES_KEY_BYTES = 32;
export const AES_IV_BYTES = 16;

export class SessionCipher {
  private currentIv: Buffer;

  constructor(
    private readonly key: Buffer,
    iv: Buffer,
  ) {
    if (key.length !== AES_KEY_BYTES) throw new RangeError(`AES key must be ${AES_KEY_BYTES} bytes`);
    if (iv.length !== AES_IV_BYTES) throw new RangeError(`IV must be ${AES_IV_BYTES} bytes`);
    this.currentIv = Buffer.from(iv);
  }

  /** Builds a cipher from the 48-byte key+IV blob exchanged during the handshake. */
  static fromKeyMaterial(material: Buffer): SessionCipher {
    if (material.length !== AES_KEY_BYTES + AES_IV_BYTES) throw new RangeError('key material must be 48 bytes');
    return new SessionCipher(material.subarray(0, AES_KEY_BYTES), material.subarray(AES_KEY_BYTES));
  }

  get iv(): Buffer {
    return Buffer.from(this.currentIv);
  }

  /** Encrypts with the current IV (does not advance it). */
  encrypt(plaintext: Buffer): Buffer {
    const cipher = createCipheriv('aes-256-cbc', this.key, this.currentIv);
    return Buffer.concat([cipher.update(plaintext), cipher.final()]);
  }

  /** Decrypts with the current IV (does not advance it); throws on bad padding or length. */
  decrypt(ciphertext: Buffer): Buffer {
    const decipher = createDecipheriv('aes-256-cbc', this.key, this.currentIv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  }

  /** Moves to the IV carried at the end of the last payload. */
  rotate(nextIv: Buffer): void {
    if (nextIv.length !== AES_IV_BYTES) throw new RangeError(`IV must be ${AES_IV_BYTES} bytes`);
    this.currentIv = Buffer.from(nextIv);
  }
}
