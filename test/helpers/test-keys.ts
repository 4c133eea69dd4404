// Key pairs shared by the tests of one process: RSA keygen is slow, so generate each size once.
import { RsaKeyPair } from '../../src/crypto/rsa-key-pair.js';
import { generateClientKeyPair, type ClientKeyPair } from '../../src/client/tcp-client.js';

let serverPair: Promise<RsaKeyPair> | undefined;
let clientPair: Promise<ClientKeyPair> | undefined;

/** A 2048-bit server pair (4096 is covered by the conformance test). */
export function testServerKeyPair(): Promise<RsaKeyPair> {
  serverPair ??= RsaKeyPair.generate(2048);
  return serverPair;
}

export function testClientKeyPair(): Promise<ClientKeyPair> {
  clientPair ??= generateClientKeyPair(2048);
  return clientPair;
}
