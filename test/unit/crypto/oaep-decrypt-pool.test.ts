import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { OaepDecryptError, OaepDecryptPool } from '../../../src/crypto/oaep-decrypt-pool.js';
import { RsaKeyPair } from '../../../src/crypto/rsa-key-pair.js';

describe('OaepDecryptPool', () => {
  let pair: RsaKeyPair;
  let pool: OaepDecryptPool;
  before(async () => {
    pair = await RsaKeyPair.generate(2048);
    pool = new OaepDecryptPool(pair, 2);
  });
  after(async () => pool.close());

  it('decrypts many concurrent ciphertexts to the right plaintexts', async () => {
    const secrets = Array.from({ length: 40 }, () => randomBytes(48));
    const plains = await Promise.all(secrets.map((s) => pool.decrypt(pair.encrypt(s))));
    plains.forEach((p, i) => assert.deepEqual(p, secrets[i]));
    assert.equal(pool.pending, 0);
  });

  it('rejects a ciphertext that fails to decrypt and keeps working', async () => {
    await assert.rejects(pool.decrypt(randomBytes(256)), OaepDecryptError);
    await assert.rejects(pool.decrypt(randomBytes(10)), OaepDecryptError);
    const secret = randomBytes(48);
    assert.deepEqual(await pool.decrypt(pair.encrypt(secret)), secret);
  });

  it('replaces a worker that dies, failing only the task it held', async () => {
    const fragile = new OaepDecryptPool(pair, 1);
    try {
      const ciphertext = pair.encrypt(randomBytes(48));
      const inFlight = fragile.decrypt(ciphertext);
      // Reach into the pool to kill its only worker, as an OOM or a native crash would.
      const slots = (fragile as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
      await slots[0]!.worker.terminate();
      await assert.rejects(inFlight, /exited/);
      const secret = randomBytes(48);
      assert.deepEqual(await fragile.decrypt(pair.encrypt(secret)), secret);
    } finally {
      await fragile.close();
    }
  });

  it('runs its workers at the requested niceness without renicing the main thread (Linux)', { skip: process.platform !== 'linux' }, async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const niceOf = (task: string) => Number(readFileSync(`/proc/self/task/${task}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    const before = new Set(readdirSync('/proc/self/task'));
    const mainNice = niceOf(String(process.pid));
    const niced = new OaepDecryptPool(pair, 1, 7);
    try {
      await niced.decrypt(pair.encrypt(randomBytes(48)));
      const fresh = readdirSync('/proc/self/task').filter((task) => !before.has(task));
      assert.ok(fresh.map(niceOf).includes(7));
      assert.equal(niceOf(String(process.pid)), mainNice);
    } finally {
      await niced.close();
    }
  });

  it('rejects new work once closed', async () => {
    const closing = new OaepDecryptPool(pair, 1);
    await closing.close();
    await assert.rejects(closing.decrypt(pair.encrypt(randomBytes(48))), /closed/);
  });
});
