import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSelfSignedCertificate, saveTlsMaterial } from '../../../src/crypto/tls.js';

describe('self-signed TLS certificate', () => {
  it('is valid for localhost and the loopback addresses and matches its key', async () => {
    const material = await generateSelfSignedCertificate();
    const cert = new X509Certificate(material.certificatePem);
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkPrivateKey(createPrivateKey(material.keyPem)), true);
    assert.equal(cert.fingerprint256.replace(/:/g, '').toLowerCase(), material.fingerprint);
  });

  it('saves the private key with mode 0600', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anweddol-tls-'));
    try {
      const material = await generateSelfSignedCertificate();
      await saveTlsMaterial(material, join(dir, 'ssl/key.pem'), join(dir, 'ssl/cert.pem'));
      assert.equal(statSync(join(dir, 'ssl/key.pem')).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, 'ssl/cert.pem')).isFile(), true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
