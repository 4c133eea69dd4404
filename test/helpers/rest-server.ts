// Test fixture: a real AnweddolServer serving TCP and REST (HTTP or HTTPS) on 127.0.0.1, ephemeral ports.
import { generateSelfSignedCertificate } from '../../src/crypto/tls.js';
import { AnweddolHttpClient } from '../../src/client/http-client.js';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { AnweddolServer, type AnweddolServerOptions } from '../../src/server/anweddol-server.js';
import { HttpListener } from '../../src/server/http-listener.js';
import { testClientKeyPair, testServerKeyPair } from './test-keys.js';

export interface RestServer {
  server: AnweddolServer;
  listener: HttpListener;
  client: AnweddolHttpClient;
  /** A TCP client for the same server (pre-generated 2048-bit client key). */
  tcpClient(): Promise<AnweddolTcpClient>;
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
  const tcpClient = async () => new AnweddolTcpClient({ host: '127.0.0.1', port: server.tcpAddress()!.port, keyPair: await testClientKeyPair(), timeoutMs: 5000 });
  return { server, listener, client, tcpClient, close: () => server.stop() };
}
