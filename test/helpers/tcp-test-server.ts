// Starts an AnweddolServer on 127.0.0.1 with an ephemeral port, a fake backend and a memory logger.
import { AnweddolServer, type AnweddolServerOptions } from '../../src/server/anweddol-server.js';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { FakeVirtualization } from './fake-virtualization.js';
import { MemoryLogger } from './memory-logger.js';
import { testClientKeyPair, testServerKeyPair } from './test-keys.js';

export interface TcpTestServer {
  server: AnweddolServer;
  port: number;
  logger: MemoryLogger;
  virtualization: FakeVirtualization;
  client(): Promise<AnweddolTcpClient>;
  /** Resolves once the server holds no connection (all Connection objects and OS sockets gone). */
  idle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpTestServer(options: Partial<AnweddolServerOptions> = {}): Promise<TcpTestServer> {
  const logger = new MemoryLogger();
  const virtualization = new FakeVirtualization();
  const server = new AnweddolServer({
    rsaKeyPair: await testServerKeyPair(),
    bindAddress: '127.0.0.1',
    listenPort: 0,
    logger,
    virtualization,
    ...options,
  });
  await server.start();
  const port = server.tcpAddress()!.port;
  return {
    server,
    port,
    logger,
    virtualization,
    client: async () => new AnweddolTcpClient({ host: '127.0.0.1', port, keyPair: await testClientKeyPair(), timeoutMs: 10_000 }),
    idle: async (timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      while (server.getRuntimeStatistics().activeConnections > 0 || (await server.tcpConnectionCount()) > 0) {
        if (Date.now() > deadline) throw new Error('server still holds connections');
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    stop: () => server.stop(),
  };
}
