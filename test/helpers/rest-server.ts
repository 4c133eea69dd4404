// Test fixture: a real AnweddolServer serving TCP and REST (HTTP or HTTPS) on 127.0.0.1, ephemeral ports.
import { generateSelfSignedCertificate } from '../../src/crypto/tls.js';
import { AnweddolHttpClient } from '../../src/client/http-client.js';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { AnweddolServer, type AnweddolServerOptions } from '../../src/server/anweddol-server.js';
import { HttpListener, type HttpListenerOptions } from '../../src/server/http-listener.js';
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
  options: {
    tls?: boolean;
    maxBodySize?: number;
    serverOptions?: Partial<AnweddolServerOptions>;
    bindAddress?: string;
    listenerOptions?: Pick<HttpListenerOptions, 'allowedOrigins'>;
  } = {},
): Promise<RestServer> {
  const bindAddress = options.bindAddress ?? '127.0.0.1';
  // Clients connect to the loopback of the listener's family (an IPv4-mapped bind is reached over IPv4).
  const host = bindAddress === '::1' ? '::1' : '127.0.0.1';
  const tls = options.tls ? await generateSelfSignedCertificate() : undefined;
  const server = new AnweddolServer({
    rsaKeyPair: await testServerKeyPair(),
    bindAddress,
    listenPort: 0,
    rsaWorkers: 0,
    ...options.serverOptions,
  });
  const listener = new HttpListener({
    server,
    bindAddress,
    port: 0,
    maxBodySize: options.maxBodySize,
    ...options.listenerOptions,
    tls: tls && { key: tls.keyPem, cert: tls.certificatePem },
  });
  server.addTransport(listener);
  await server.start();
  const base = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${listener.address().port}`;
  const client = new AnweddolHttpClient({ baseUrl: base, rejectUnauthorized: false });
  const tcpClient = async () => new AnweddolTcpClient({ host, port: server.tcpAddress()!.port, keyPair: await testClientKeyPair(), timeoutMs: 5000 });
  return { server, listener, client, tcpClient, close: () => server.stop() };
}
