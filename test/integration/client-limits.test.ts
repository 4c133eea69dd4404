// Per-client limits over real sockets (TCP and REST on 127.0.0.1), the other client being 127.0.0.2; fake backend.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AnweddolHttpClient } from '../../src/client/http-client.js';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import type { AnweddolServerOptions } from '../../src/server/anweddol-server.js';
import type { AnweddolResponse } from '../../src/server/types.js';
import { encodeLengthPrefix } from '../../src/server/protocol/length-prefix.js';
import { FakeVirtualization } from '../helpers/fake-virtualization.js';
import { MemoryLogger } from '../helpers/memory-logger.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { startRestServer, type RestServer } from '../helpers/rest-server.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

const ME = '127.0.0.1';
const NEIGHBOUR = '127.0.0.2';

interface Fixture {
  rest: RestServer;
  backend: FakeVirtualization;
  logger: MemoryLogger;
  tcp(from: string): Promise<AnweddolTcpClient>;
  http(from: string): AnweddolHttpClient;
  /** A connection the server has accepted and now holds idle: TCP half-way through the key exchange, REST kept alive. */
  idle(transport: 'tcp' | 'http', from: string): Promise<RawPeer>;
}

async function withServer(
  options: Partial<AnweddolServerOptions>,
  test: (f: Fixture) => Promise<void>,
  { backendDelayMs = 0, tls = false }: { backendDelayMs?: number; tls?: boolean } = {},
): Promise<void> {
  const backend = new FakeVirtualization({ createDelayMs: backendDelayMs });
  const logger = new MemoryLogger();
  const rest = await startRestServer({ tls, serverOptions: { virtualization: backend, logger, ...options } });
  const peers: RawPeer[] = [];
  const tcpPort = rest.server.tcpAddress()!.port;
  const httpPort = rest.listener.address().port;
  const fixture: Fixture = {
    rest,
    backend,
    logger,
    tcp: async (from) => new AnweddolTcpClient({ host: ME, port: tcpPort, localAddress: from, keyPair: await testClientKeyPair(), timeoutMs: 5000 }),
    http: (from) => new AnweddolHttpClient({ baseUrl: `${tls ? 'https' : 'http'}://${ME}:${httpPort}`, localAddress: from, rejectUnauthorized: false }),
    idle: async (transport, from) => {
      const peer = await RawPeer.connect(transport === 'tcp' ? tcpPort : httpPort, ME, from);
      peers.push(peer);
      if (transport === 'tcp') peer.write(encodeLengthPrefix(450));
      else peer.write('POST /stat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
      await peer.read(1); // the server answered, so it holds this connection
      return peer;
    },
  };
  try {
    await test(fixture);
  } finally {
    for (const peer of peers) peer.destroy();
    await rest.close();
  }
}

/** Connects and reports whether the server closed the socket at once without a byte. */
async function closedAtAccept(port: number, from: string): Promise<boolean> {
  const peer = await RawPeer.connect(port, ME, from);
  const started = Date.now();
  const received = await peer.readToClose(2000);
  peer.destroy();
  return received === '' && Date.now() - started < 1000;
}

function assertCreated(response: AnweddolResponse): void {
  assert.equal(response.message, 'OK');
}

describe('container.max_per_client', () => {
  it('refuses the third CREATE from one address while 127.0.0.2 still creates', () =>
    withServer({ maxSandboxesPerClient: 2 }, async ({ tcp, backend }) => {
      assertCreated(await (await tcp(ME)).create());
      assertCreated(await (await tcp(ME)).create());
      assert.deepEqual(await (await tcp(ME)).create(), { success: false, message: 'Refused request (max_per_client)', data: {} });
      assertCreated(await (await tcp(NEIGHBOUR)).create());
      assert.equal(backend.sandboxes.size, 3);
    }));

  it('counts sandboxes made over TCP and REST together', () =>
    withServer({ maxSandboxesPerClient: 2 }, async ({ tcp, http }) => {
      assertCreated(await (await tcp(ME)).create());
      assertCreated(await http(ME).create());
      assert.equal((await http(ME).create()).message, 'Refused request (max_per_client)');
    }));

  it('gives the place back when the client destroys a sandbox', () =>
    withServer({ maxSandboxesPerClient: 1 }, async ({ tcp }) => {
      const first = await (await tcp(ME)).create();
      assert.equal((await (await tcp(ME)).create()).message, 'Refused request (max_per_client)');
      await (await tcp(ME)).destroy(first.data.container_uuid as string, first.data.client_token as string);
      assertCreated(await (await tcp(ME)).create());
    }));

  it('counts CREATEs still in flight, so parallel CREATEs cannot overshoot', () =>
    withServer(
      { maxSandboxesPerClient: 2 },
      async ({ http, backend }) => {
        const answers = await Promise.all(Array.from({ length: 5 }, () => http(ME).create()));
        assert.equal(answers.filter((a) => a.message === 'OK').length, 2);
        assert.equal(backend.sandboxes.size, 2);
      },
      { backendDelayMs: 200 },
    ));

  it('counts each refusal in the statistics and logs the limit once for the client', () =>
    withServer({ maxSandboxesPerClient: 1 }, async ({ tcp, rest, logger }) => {
      await (await tcp(ME)).create();
      for (let i = 0; i < 3; i++) await (await tcp(ME)).create();
      assert.equal(rest.server.getRuntimeStatistics().clientLimitRefusals.max_per_client, 3);
      assert.equal(logger.lines.filter((l) => /per-client limit max_per_client/.test(l.message)).length, 1);
    }));
});

describe('container.create_rate', () => {
  it('refuses the CREATE beyond the burst with Refused request (create_rate), another address unaffected', () =>
    withServer({ createRate: '3/min' }, async ({ tcp, http, rest }) => {
      for (let i = 0; i < 3; i++) assertCreated(await http(ME).create());
      assert.equal((await (await tcp(ME)).create()).message, 'Refused request (create_rate)');
      assertCreated(await http(NEIGHBOUR).create());
      assert.equal(rest.server.getRuntimeStatistics().clientLimitRefusals.create_rate, 1);
    }));

  it('lets the client create again once a token has refilled', () =>
    withServer({ createRate: '4/s' }, async ({ http }) => {
      for (let i = 0; i < 4; i++) assertCreated(await http(ME).create());
      assert.equal((await http(ME).create()).message, 'Refused request (create_rate)');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assertCreated(await http(ME).create());
    }));
});

describe('server.max_connections_per_client', () => {
  it('closes a TCP connection over the cap at accept while 127.0.0.2 is served', () =>
    withServer({ maxConnectionsPerClient: 3 }, async ({ idle, tcp, rest }) => {
      for (let i = 0; i < 3; i++) await idle('tcp', ME);
      assert.equal(await closedAtAccept(rest.server.tcpAddress()!.port, ME), true);
      assert.equal((await (await tcp(NEIGHBOUR)).stat()).message, 'OK');
      assert.equal(rest.server.getRuntimeStatistics().clientLimitRefusals.max_connections_per_client, 1);
    }));

  it('closes a REST connection over the cap at accept while 127.0.0.2 is served', () =>
    withServer({ maxConnectionsPerClient: 3 }, async ({ idle, http, rest }) => {
      for (let i = 0; i < 3; i++) await idle('http', ME);
      assert.equal(await closedAtAccept(rest.listener.address().port, ME), true);
      assert.equal((await http(NEIGHBOUR).stat()).message, 'OK');
    }));

  it('closes an HTTPS connection over the cap at accept, before any TLS work', () =>
    withServer(
      { maxConnectionsPerClient: 2 },
      async ({ idle, http, rest }) => {
        for (let i = 0; i < 2; i++) await idle('tcp', ME);
        assert.equal(await closedAtAccept(rest.listener.address().port, ME), true);
        assert.equal((await http(NEIGHBOUR).stat()).message, 'OK');
      },
      { tls: true },
    ));

  it('counts TCP and REST connections of one client together', () =>
    withServer({ maxConnectionsPerClient: 2 }, async ({ idle, rest }) => {
      await idle('tcp', ME);
      await idle('http', ME);
      assert.equal(await closedAtAccept(rest.server.tcpAddress()!.port, ME), true);
      assert.equal(await closedAtAccept(rest.listener.address().port, ME), true);
    }));

  it('serves the client again once one of its connections has closed', () =>
    withServer({ maxConnectionsPerClient: 1 }, async ({ idle, tcp, rest }) => {
      const held = await idle('tcp', ME);
      assert.equal(await closedAtAccept(rest.server.tcpAddress()!.port, ME), true);
      held.destroy();
      await held.closed;
      const deadline = Date.now() + 2000;
      while (rest.server.getRuntimeStatistics().activeConnections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal((await (await tcp(ME)).stat()).message, 'OK');
    }));
});
