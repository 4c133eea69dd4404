// Test fixture: a real AnweddolServer (TCP on 127.0.0.1) over the real Docker backend and a SQLite session store.
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { AnweddolDatabase } from '../../src/database/database.js';
import { SqliteSessionStore } from '../../src/database/sqlite-session-store.js';
import { AnweddolServer, type AnweddolServerOptions } from '../../src/server/anweddol-server.js';
import type { CreatedSandbox } from '../../src/server/sandbox-manager.js';
import { DockerVirtualization, type DockerVirtualizationOptions } from '../../src/virtualization/docker/docker-virtualization.js';
import { testServerKeyPair } from './test-keys.js';

export interface SandboxServer {
  server: AnweddolServer;
  backend: DockerVirtualization;
  database: AnweddolDatabase;
  sessions: SqliteSessionStore;
  client: AnweddolTcpClient;
  /** A client connecting from another local address (e.g. 127.0.0.2: another client for the per-client limits). */
  clientFrom(localAddress: string): AnweddolTcpClient;
  /** Stops the server without destroying sandboxes (as a crash or restart would), closes the database. */
  stop(): Promise<void>;
}

/** The `data` of a CREATE answer (docs/protocol.md §2.3), as the server builds it. */
export type CreatedData = CreatedSandbox;

export async function startSandboxServer(options: {
  databaseFile: string;
  backend: Omit<DockerVirtualizationOptions, 'publishedAddress'>;
  maxSandboxes?: number | null;
  destroyOnStop?: boolean;
  serverOptions?: Partial<AnweddolServerOptions>;
  beforeStart?: (server: AnweddolServer) => void;
}): Promise<SandboxServer> {
  const backend = new DockerVirtualization({ portRange: [12000, 12999], memoryMiB: 256, vcpus: 1, ...options.backend, publishedAddress: '127.0.0.1' });
  const database = new AnweddolDatabase(options.databaseFile);
  const sessions = new SqliteSessionStore(database);
  const server = new AnweddolServer({
    rsaKeyPair: await testServerKeyPair(),
    bindAddress: '127.0.0.1',
    listenPort: 0,
    rsaWorkers: 0,
    timeoutSeconds: 60,
    virtualization: backend,
    sessions,
    maxSandboxes: options.maxSandboxes === undefined ? 6 : options.maxSandboxes,
    destroyOnStop: options.destroyOnStop ?? false,
    ...options.serverOptions,
  });
  // Handlers given before start() see what start itself does (e.g. sandboxes expired while the server was down).
  options.beforeStart?.(server);
  await server.start();
  const clientFrom = (localAddress?: string) =>
    new AnweddolTcpClient({ host: '127.0.0.1', port: server.tcpAddress()!.port, rsaKeyBits: 2048, timeoutMs: 60_000, localAddress });
  const client = clientFrom();
  return {
    server,
    backend,
    database,
    sessions,
    client,
    clientFrom,
    stop: async () => {
      await server.stop();
      database.close();
    },
  };
}
