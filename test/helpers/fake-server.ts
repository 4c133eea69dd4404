// Test fixture: an AnweddolServer over the fake backend and an in-memory session store, requests dispatched in-process.
import { AnweddolServer, type AnweddolServerOptions } from '../../src/server/anweddol-server.js';
import { clientInfo } from '../../src/server/client-info.js';
import { MemorySessionStore } from '../../src/server/memory-session-store.js';
import type { AnweddolResponse, ClientInfo } from '../../src/server/types.js';
import { FakeVirtualization } from './fake-virtualization.js';
import { testServerKeyPair } from './test-keys.js';

export interface FakeServer {
  server: AnweddolServer;
  virtualization: FakeVirtualization;
  sessions: MemorySessionStore;
  call(verb: string, parameters?: Record<string, unknown>, client?: ClientInfo): Promise<AnweddolResponse>;
  stop(): Promise<void>;
}

/** The key client ids are made with in these tests. */
export const TEST_CLIENT_ID_KEY = Buffer.alloc(32, 7);

export function testClient(address: string): ClientInfo {
  return clientInfo(address, 40000, 'http', TEST_CLIENT_ID_KEY);
}

export const TEST_CLIENT = testClient('127.0.0.1');

export async function startFakeServer(options: Partial<AnweddolServerOptions> = {}): Promise<FakeServer> {
  const virtualization = new FakeVirtualization();
  const sessions = new MemorySessionStore();
  const server = new AnweddolServer({ rsaKeyPair: await testServerKeyPair(), enableTcp: false, virtualization, sessions, ...options });
  await server.start();
  return {
    server,
    virtualization,
    sessions,
    call: (verb, parameters = {}, client = TEST_CLIENT) => server.dispatch({ verb, parameters }, client),
    stop: () => server.stop(),
  };
}

/** The credentials of a CREATE answer, as RENEW and DESTROY take them. */
export function credentialsOf(response: AnweddolResponse): { container_uuid: string; client_token: string } {
  return { container_uuid: response.data.container_uuid as string, client_token: response.data.client_token as string };
}
