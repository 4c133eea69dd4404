import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RsaKeyPair } from '../../../src/crypto/rsa-key-pair.js';
import { oaepEncrypt } from '../../../src/crypto/rsa-oaep.js';

describe('RsaKeyPair', () => {
  let dir: string;
  let pair: RsaKeyPair;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anweddol-rsa-'));
    pair = await RsaKeyPair.generate(2048);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('generates 4096-bit keys by default', async () => {
    const big = await RsaKeyPair.generate();
    assert.equal(big.modulusBits, 4096);
    assert.equal(big.ciphertextBytes, 512);
  });

  it('saves SPKI public and PKCS#8 private PEM files with mode 0600', async () => {
    const pub = join(dir, 'a', 'public.pem');
    const priv = join(dir, 'a', 'private.pem');
    await pair.save(pub, priv);
    assert.match(await readFile(pub, 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
    assert.match(await readFile(priv, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.equal((await stat(pub)).mode & 0o777, 0o600);
    assert.equal((await stat(priv)).mode & 0o777, 0o600);
  });

  it('loads what it saved, with the same fingerprint', async () => {
    const pub = join(dir, 'b', 'public.pem');
    const priv = join(dir, 'b', 'private.pem');
    await pair.save(pub, priv);
    const loaded = await RsaKeyPair.load(pub, priv);
    assert.equal(loaded.fingerprint, pair.fingerprint);
  });

  it('fingerprints as sha256 of the DER SubjectPublicKeyInfo', () => {
    const der = createPublicKey(pair.publicKeyPem).export({ type: 'spki', format: 'der' });
    assert.equal(pair.fingerprint, createHash('sha256').update(der).digest('hex'));
  });

  it('generates and saves on first loadOrGenerate, then loads the same pair', async () => {
    const pub = join(dir, 'c', 'public.pem');
    const priv = join(dir, 'c', 'private.pem');
    const first = await RsaKeyPair.loadOrGenerate(pub, priv, 2048);
    const second = await RsaKeyPair.loadOrGenerate(pub, priv, 2048);
    assert.equal(second.fingerprint, first.fingerprint);
  });

  it('rebuilds a missing public key from the existing private key instead of replacing the pair', async () => {
    const pub = join(dir, 'd', 'public.pem');
    const priv = join(dir, 'd', 'private.pem');
    const first = await RsaKeyPair.loadOrGenerate(pub, priv, 2048);
    await rm(pub);
    const second = await RsaKeyPair.loadOrGenerate(pub, priv, 2048);
    assert.equal(second.fingerprint, first.fingerprint);
    assert.equal(await readFile(pub, 'utf8'), first.publicKeyPem);
  });

  it('refuses a file that is not a key, naming the file but not its content', async () => {
    const pub = join(dir, 'bad-public.pem');
    const priv = join(dir, 'bad-private.pem');
    await writeFile(pub, 'not a key');
    await writeFile(priv, pair.privateKeyPem());
    await assert.rejects(RsaKeyPair.load(pub, priv), (error: Error) => error.message.includes('bad-public.pem') && !error.message.includes('PRIVATE'));
  });

  it('refuses a public key that does not match the private key', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    assert.throws(() => new RsaKeyPair(other.publicKey, pair.privateKey), /does not match/);
  });

  it('refuses an EC key pair', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(() => new RsaKeyPair(ec.publicKey, ec.privateKey), /RSA/);
  });

  it('decrypts OAEP-SHA256 ciphertext made with its public key', () => {
    const secret = randomBytes(48);
    assert.deepEqual(pair.decrypt(oaepEncrypt(pair.publicKey, secret)), secret);
    assert.deepEqual(pair.decrypt(pair.encrypt(secret)), secret);
  });
});
