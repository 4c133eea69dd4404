// The server's long-lived RSA key pair: load from PEM files, or generate and save them (0600).
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { oaepDecrypt, oaepEncrypt } from './rsa-oaep.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export const DEFAULT_RSA_BITS = 4096;

export class RsaKeyPair {
  /** SubjectPublicKeyInfo PEM, exactly as sent in handshake step 7. */
  readonly publicKeyPem: string;
  /** sha256 hex of the DER SubjectPublicKeyInfo. */
  readonly fingerprint: string;
  readonly modulusBits: number;

  constructor(
    readonly publicKey: KeyObject,
    readonly privateKey: KeyObject,
  ) {
    if (publicKey.asymmetricKeyType !== 'rsa' || privateKey.asymmetricKeyType !== 'rsa') {
      throw new TypeError('RsaKeyPair needs an RSA key pair');
    }
    const derived = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    const der = publicKey.export({ type: 'spki', format: 'der' });
    if (!derived.equals(der)) throw new TypeError('public key does not match private key');
    this.publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    this.fingerprint = createHash('sha256').update(der).digest('hex');
    this.modulusBits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  }

  static async generate(bits: number = DEFAULT_RSA_BITS): Promise<RsaKeyPair> {
    const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: bits });
    return new RsaKeyPair(publicKey, privateKey);
  }

  static fromPem(publicPem: string | Buffer, privatePem: string | Buffer): RsaKeyPair {
    return new RsaKeyPair(createPublicKey(publicPem), createPrivateKey(privatePem));
  }

  /** Reads the PEM pair; a missing file rejects with the fs error (ENOENT), a bad key with a TypeError naming the file. */
  static async load(publicKeyPath: string, privateKeyPath: string): Promise<RsaKeyPair> {
    const [pub, priv] = await Promise.all([readFile(publicKeyPath), readFile(privateKeyPath)]);
    let publicKey: KeyObject;
    let privateKey: KeyObject;
    try {
      publicKey = createPublicKey(pub);
    } catch {
      throw new TypeError(`${publicKeyPath}: not a PEM public key`);
    }
    try {
      privateKey = createPrivateKey(priv);
    } catch {
      throw new TypeError(`${privateKeyPath}: not a PEM private key`);
    }
    return new RsaKeyPair(publicKey, privateKey);
  }

  /** Loads the pair if both files exist, otherwise generates one and saves it. */
  static async loadOrGenerate(publicKeyPath: string, privateKeyPath: string, bits: number = DEFAULT_RSA_BITS): Promise<RsaKeyPair> {
    try {
      return await RsaKeyPair.load(publicKeyPath, privateKeyPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    // Only the public half missing: rebuild it from the private key, never replace the server's identity.
    const existingPrivate = await readFile(privateKeyPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (existingPrivate !== undefined) {
      let privateKey: KeyObject;
      try {
        privateKey = createPrivateKey(existingPrivate);
      } catch {
        throw new TypeError(`${privateKeyPath}: not a PEM private key`);
      }
      const pair = new RsaKeyPair(createPublicKey(privateKey), privateKey);
      await mkdir(dirname(publicKeyPath), { recursive: true, mode: 0o700 });
      await writeFile(publicKeyPath, pair.publicKeyPem, { mode: 0o600 });
      return pair;
    }
    const pair = await RsaKeyPair.generate(bits);
    await pair.save(publicKeyPath, privateKeyPath);
    return pair;
  }

  /** Writes the public key (SPKI PEM) and private key (PKCS#8 PEM), both mode 0600. */
  async save(publicKeyPath: string, privateKeyPath: string): Promise<void> {
    for (const path of [publicKeyPath, privateKeyPath]) await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(publicKeyPath, this.publicKeyPem, { mode: 0o600 });
    await chmod(publicKeyPath, 0o600);
    await writeFile(privateKeyPath, this.privateKeyPem(), { mode: 0o600 });
    await chmod(privateKeyPath, 0o600);
  }

  /** PKCS#8 PEM of the private key; for saving and for handing to decryption workers only. */
  privateKeyPem(): string {
    return this.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  encrypt(plaintext: Buffer): Buffer {
    return oaepEncrypt(this.publicKey, plaintext);
  }

  decrypt(ciphertext: Buffer): Buffer {
    return oaepDecrypt(this.privateKey, ciphertext);
  }

  /** Exact OAEP ciphertext length under this key (512 for RSA-4096). */
  get ciphertextBytes(): number {
    return Math.ceil(this.modulusBits / 8);
  }
}
