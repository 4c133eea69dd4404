// Test fixture: a real AnweddolServer with the REST listener on 127.0.0.1 (ephemeral port), HTTP or HTTPS.
import { RsaKeyPair } from '../../src/crypto/rsa-key-pair.js';
import { generateSelfSignedCertificate } from '../../src/crypto/tls.js';
import { AnweddolHttpClient } from '../../src/client/http-client.js';
import { AnweddolServer, type AnweddolServerOptions } from '../../src/server/anweddol-server.js';
import { HttpListener } from '../../src/server/http-listener.js';

let sharedKeyPair: Promise<RsaKeyPair> | undefined;
/** One 2048-bit server key per test process: generation is the slow part of a server start. */
export function testServerKeyPair(): Promise<RsaKeyPair> {
  sharedKeyPair ??= RsaKeyPair.generate(2048);
  return sharedKeyPair;
}

export interface RestServer {
  server: AnweddolServer;
  listener: HttpListener;
  client: AnweddolHttpClient;
  close(): Promise<void>;
}

export async function startRestServer(
  options: { tls?: boolean; maxBodySize?: number; serverOptions?: Partial<AnweddolServerOptions> } = {},
): Promise<RestServer> {
  const tls = options.tls ? await generateSelfSignedCertificate() : undefined;
  const server = new AnweddolServer({
    rsaKeyPair: await testServerKeyPair(),
    bindAddress: '127.0.0.1',
    listenPort: 0,
    rsaWorkers: 0,
    ...options.serverOptions,
  });
  const listener = new HttpListener({
    server,
    bindAddress: '127.0.0.1',
    port: 0,
    maxBodySize: options.maxBodySize,
    tls: tls && { key: tls.keyPem, cert: tls.certificatePem },
  });
  server.addTransport(listener);
  await server.start();
  const client = new AnweddolHttpClient({ baseUrl: listener.url(), rejectUnauthorized: false });
  return { server, listener, client, close: () => server.stop() };
}
