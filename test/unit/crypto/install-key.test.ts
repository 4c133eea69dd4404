import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InstallKeyError, loadOrCreateInstallKey } from '../../../src/crypto/install-key.js';

describe('install key file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'install-key-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is created on first use with 32 random bytes, mode 0600, in a new folder', () => {
    const path = join(dir, 'new', 'client-id.key');
    const key = loadOrCreateInstallKey(path);
    assert.equal(key.length, 32);
    assert.deepEqual(readFileSync(path), key);
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  it('is read back unchanged on the next start', () => {
    const path = join(dir, 'again.key');
    assert.deepEqual(loadOrCreateInstallKey(path), loadOrCreateInstallKey(path));
  });

  it('is refused when others can read it, naming the fix', () => {
    const path = join(dir, 'open.key');
    writeFileSync(path, Buffer.alloc(32, 1), { mode: 0o600 });
    chmodSync(path, 0o644);
    assert.throws(() => loadOrCreateInstallKey(path), (e: Error) => e instanceof InstallKeyError && /open\.key: readable by others \(mode 644\); run chmod 600/.test(e.message));
  });

  it('is refused when it holds the wrong number of bytes', () => {
    const path = join(dir, 'short.key');
    writeFileSync(path, Buffer.alloc(5), { mode: 0o600 });
    assert.throws(() => loadOrCreateInstallKey(path), /short\.key: holds 5 bytes, expected 32/);
  });
});
