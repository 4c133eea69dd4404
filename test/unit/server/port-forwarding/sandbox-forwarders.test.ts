// Port forwarders in the CREATE/DESTROY chain: a fake backend whose sandboxes live "on another host" (a local echo server), real listening sockets.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { RsaKeyPair } from '../../../../src/crypto/rsa-key-pair.js';
import { AnweddolServer, type AnweddolServerOptions } from '../../../../src/server/anweddol-server.js';
import { clientInfo } from '../../../../src/server/client-info.js';
import { MemorySessionStore } from '../../../../src/server/memory-session-store.js';
import type { AnweddolResponse } from '../../../../src/server/types.js';
import { bindProbe, PortPool } from '../../../../src/virtualization/docker/port-pool.js';
import type { Sandbox, SandboxSpec } from '../../../../src/virtualization/virtualization-interface.js';
import { FakeVirtualization } from '../../../helpers/fake-virtualization.js';
import { testServerKeyPair } from '../../../helpers/test-keys.js';

const CLIENT = clientInfo('127.0.0.1', 40000, 'http', Buffer.alloc(32));
const PORT_RANGE: [number, number] = [14600, 14649];

/** Sandboxes published "on another node" as a swarm backend reports them (`host`): the node's port is a local echo server. */
class RemoteNodeVirtualization extends FakeVirtualization {
  constructor(private readonly nodePort: number) {
    super();
  }

  override async create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    return Object.assign(await super.create(spec, signal), { host: '127.0.0.1', port: this.nodePort });
  }
}

let keyPair: RsaKeyPair;
let echo: Server;
let echoPort: number;
const running: AnweddolServer[] = [];

before(async () => {
  keyPair = await testServerKeyPair();
  echo = createServer((socket) => socket.pipe(socket)).listen(0, '127.0.0.1');
  await once(echo, 'listening');
  echoPort = (echo.address() as AddressInfo).port;
});

after(async () => {
  for (const server of running) await server.stop();
  await new Promise((resolve) => echo.close(resolve));
});

interface Harness {
  server: AnweddolServer;
  fake: RemoteNodeVirtualization;
  sessions: MemorySessionStore;
  /** Forwarder events in order, as `event:port[:reason]`. */
  events: string[];
  call(verb: string, parameters?: Record<string, unknown>): Promise<AnweddolResponse>;
}

async function startServer(options: Partial<AnweddolServerOptions> = {}, fake = new RemoteNodeVirtualization(echoPort), sessions = new MemorySessionStore()): Promise<Harness> {
  const server = new AnweddolServer({
    rsaKeyPair: keyPair,
    enableTcp: false,
    virtualization: fake,
    sessions,
    portForwarding: { listenAddress: '127.0.0.1', ports: new PortPool(...PORT_RANGE, bindProbe('127.0.0.1')) },
    ...options,
  });
  const events: string[] = [];
  for (const event of ['forwarder_created', 'forwarder_started', 'forwarder_stopped'] as const) {
    server.on(event, (ctx) => void events.push(`${event}:${ctx.server_origin_port}${'reason' in ctx ? `:${String(ctx.reason)}` : ''}`));
  }
  server.on('container_started', () => void events.push('container_started'));
  await server.start();
  running.push(server);
  return { server, fake, sessions, events, call: (verb, parameters = {}) => server.dispatch({ verb, parameters }, CLIENT) };
}

/** What comes back through a port after sending `text` (the echo answers it through the forwarder). */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end(text));
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
  });
}

async function isRefused(port: number): Promise<boolean> {
  const socket = connect({ host: '127.0.0.1', port });
  return new Promise((resolve) => {
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

describe('port forwarders', () => {
  it('answers CREATE with a forwarder port of the range that reaches the sandbox on its node', async () => {
    const { call } = await startServer();
    const response = await call('CREATE');
    assert.equal(response.message, 'OK');
    const port = response.data.container_listen_port as number;
    assert.ok(port >= PORT_RANGE[0] && port <= PORT_RANGE[1], `port ${port} is in the range`);
    assert.equal(await roundTrip(port, 'ssh bytes'), 'ssh bytes');
  });

  it("fires forwarder_created then forwarder_started before container_started, with Anweddol's forwarder fields", async () => {
    const { server, call, events } = await startServer();
    const seen: unknown[] = [];
    server.on('forwarder_started', (ctx) => void seen.push({ ...ctx }));
    const port = (await call('CREATE')).data.container_listen_port as number;
    assert.deepEqual(events, [`forwarder_created:${port}`, `forwarder_started:${port}`, 'container_started']);
    const payload = seen[0] as Record<string, unknown>;
    assert.equal(payload.server_origin_port, port);
    assert.equal(payload.container_ip, '127.0.0.1');
    assert.equal(payload.container_destination_port, echoPort);
    assert.equal(typeof payload.container_id, 'string');
  });

  it("accepts Anweddol 5's on_forwarder_* names for the forwarder events", async () => {
    const { server, call } = await startServer();
    const seen: string[] = [];
    for (const name of ['on_forwarder_created', 'on_forwarder_started', 'on_forwarder_stopped']) server.on(name, (ctx) => void seen.push(String(ctx.event)));
    const created = await call('CREATE');
    await call('DESTROY', { container_uuid: created.data.container_uuid, client_token: created.data.client_token });
    assert.deepEqual(seen, ['forwarder_created', 'forwarder_started', 'forwarder_stopped']);
  });

  it('stops the forwarder on DESTROY: forwarder_stopped with the reason, and the port refuses connections', async () => {
    const { server, call, events } = await startServer();
    const created = await call('CREATE');
    const port = created.data.container_listen_port as number;
    const destroyed = await call('DESTROY', { container_uuid: created.data.container_uuid, client_token: created.data.client_token });
    assert.equal(destroyed.message, 'OK');
    assert.equal(events.at(-1), `forwarder_stopped:${port}:destroy_request`);
    assert.equal(server.forwarderCount(), 0);
    assert.ok(await isRefused(port), 'nothing listens on the port any more');
  });

  it('stops the forwarder of a sandbox that ended behind our back (a lost node)', async () => {
    const { server, call, fake, events } = await startServer();
    const port = (await call('CREATE')).data.container_listen_port as number;
    const [id] = fake.sandboxes.keys();
    fake.end(id!, 'died');
    await waitFor(() => events.includes(`forwarder_stopped:${port}:died`));
    assert.equal(server.forwarderCount(), 0);
    assert.ok(await isRefused(port));
  });

  it('refuses CREATE when a forwarder_created handler vetoes, leaving no listener and no sandbox', async () => {
    const { server, call, fake, events } = await startServer();
    server.on('forwarder_created', (ctx) => ctx.refuse('no forwarding today'));
    const response = await call('CREATE');
    assert.equal(response.message, 'Refused request (no forwarding today)');
    assert.equal(server.forwarderCount(), 0);
    assert.equal(fake.sandboxes.size, 0);
    assert.equal(fake.destroyed.length, 1);
    assert.ok(!events.includes('container_started'), 'the sandbox was never announced');
    const port = Number(events[0]!.split(':')[1]);
    assert.ok(await isRefused(port));
  });

  it('stops the forwarder with reason vetoed when a forwarder_started handler vetoes', async () => {
    const { server, call, events } = await startServer();
    server.on('forwarder_started', (ctx) => ctx.refuse());
    assert.equal((await call('CREATE')).message, 'Refused request');
    const port = Number(events[0]!.split(':')[1]);
    assert.equal(events.at(-1), `forwarder_stopped:${port}:vetoed`);
    assert.equal(server.forwarderCount(), 0);
  });

  it('answers Unavailable and destroys the sandbox when it needs a forwarder and no ports are configured', async () => {
    const { call, fake } = await startServer({ portForwarding: { listenAddress: '127.0.0.1' } });
    const response = await call('CREATE');
    assert.match(response.message, /^Unavailable \(.*port forwarding is not configured\)$/);
    assert.equal(fake.sandboxes.size, 0);
  });

  it('forwards sandboxes whose port is on this host too in forwarder mode', async () => {
    const fake = new FakeVirtualization();
    const original = fake.create.bind(fake);
    fake.create = async (spec, signal) => Object.assign(await original(spec, signal), { sshEndpoint: { host: '127.0.0.1', port: echoPort } });
    const { call } = await startServer({ portForwarding: { mode: 'forwarder', listenAddress: '127.0.0.1', ports: new PortPool(...PORT_RANGE, bindProbe('127.0.0.1')) } }, fake as RemoteNodeVirtualization);
    const port = (await call('CREATE')).data.container_listen_port as number;
    assert.ok(port >= PORT_RANGE[0] && port <= PORT_RANGE[1]);
    assert.equal(await roundTrip(port, 'through'), 'through');
  });

  it('stops every forwarder at server stop, and a restarted server forwards the kept sandbox on the same port again', async () => {
    const fake = new RemoteNodeVirtualization(echoPort);
    const sessions = new MemorySessionStore();
    const first = await startServer({ destroyOnStop: false }, fake, sessions);
    const port = (await first.call('CREATE')).data.container_listen_port as number;
    await first.server.stop();
    assert.equal(first.server.forwarderCount(), 0);
    assert.equal(first.events.at(-1), `forwarder_stopped:${port}:server_stopped`);
    assert.ok(await isRefused(port), 'no listening socket survives the stop');
    const second = await startServer({ destroyOnStop: false }, fake, sessions);
    assert.equal(second.server.forwarderCount(), 1);
    assert.equal(await roundTrip(port, 'after restart'), 'after restart');
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
