// Self-signed TLS certificates for the REST listener (node-forge for X.509, node:crypto for the key).
import { createHash, generateKeyPair, randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface SelfSignedOptions {
  commonName?: string;
  /** DNS names and IP addresses the certificate is valid for. */
  altNames?: string[];
  days?: number;
  bits?: number;
}

export interface TlsMaterial {
  keyPem: string;
  certificatePem: string;
  /** sha256 hex of the DER certificate (what a client pins). */
  fingerprint: string;
}

export async function generateSelfSignedCertificate(options: SelfSignedOptions = {}): Promise<TlsMaterial> {
  const { commonName = 'anweddol-server', altNames = ['localhost', '127.0.0.1', '::1'], days = 825, bits = 2048 } = options;
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  // Positive serial: clear the top bit of 16 random bytes.
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString('hex');
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + days * 86_400_000);
  const subject = [{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'Anweddol' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: altNames.map((name) => (/^[\d.]+$|:/.test(name) ? { type: 7, ip: name } : { type: 2, value: name })),
    },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(cert);
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { keyPem: privateKey, certificatePem, fingerprint: createHash('sha256').update(der).digest('hex') };
}

/** Writes the key (0600) and certificate (0644), creating their folders. */
export async function saveTlsMaterial(material: TlsMaterial, keyPath: string, certificatePath: string): Promise<void> {
  await mkdir(dirname(keyPath), { recursive: true, mode: 0o750 });
  await mkdir(dirname(certificatePath), { recursive: true, mode: 0o755 });
  await writeFile(keyPath, material.keyPem, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  await writeFile(certificatePath, material.certificatePem, { mode: 0o644 });
}
