// Port forwarders on the real Docker backend (`port_forwarding.mode: forwarder`): SSH logins through them, and no listener outliving its sandbox.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import type { AnweddolServerOptions } from '../../src/server/anweddol-server.js';
import type { DestroyReason } from '../../src/server/server-events.js';
import { bindProbe, PortPool } from '../../src/virtualization/docker/port-pool.js';
import { docker, dockerHost, SANDBOX_IMAGE, sshOpen, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';
import { SandboxServerFiles } from '../helpers/sandbox-server-files.js';
import type { CreatedData, SandboxServer } from '../helpers/sandbox-server.js';

const serverId = uniqueServerId('forward');
const PORT_RANGE: [number, number] = [13700, 13759];
const SLOW_CREATE_MS = 180_000;
const servers = new SandboxServerFiles('forward', { noneLeft: true });

interface ForwardingServer extends SandboxServer {
  /** `forwarder_stopped` events: port and reason. */
  stopped: Array<{ port: number; reason: DestroyReason }>;
}

async function start(server: Partial<AnweddolServerOptions> = {}): Promise<ForwardingServer> {
  const stopped: ForwardingServer['stopped'] = [];
  const s = await servers.start({
    databaseFile: servers.databaseFile(),
    maxSandboxes: 2,
    destroyOnStop: true,
    backend: { dockerHost: dockerHost(), image: SANDBOX_IMAGE, serverId, portRange: PORT_RANGE },
    serverOptions: {
      // dockerd is shared by every developer's tests: a `docker run` can take a minute under that load.
      timeoutSeconds: SLOW_CREATE_MS / 1000,
      portForwarding: { mode: 'forwarder', listenAddress: '127.0.0.1', ports: new PortPool(...PORT_RANGE, bindProbe('127.0.0.1')), maxConnections: 4 },
      ...server,
    },
    beforeStart: (srv) => srv.on('forwarder_stopped', (ctx) => void stopped.push({ port: ctx.server_origin_port, reason: ctx.reason })),
  });
  return Object.assign(s, { stopped });
}

/** A client that waits as long as the server may take to create a sandbox on the loaded shared dockerd. */
function slowClient(s: SandboxServer): AnweddolTcpClient {
  return new AnweddolTcpClient({ host: '127.0.0.1', port: s.server.tcpAddress()!.port, rsaKeyBits: 2048, timeoutMs: SLOW_CREATE_MS });
}

async function create(s: SandboxServer): Promise<CreatedData & { containerId: string; publishedPort: number }> {
  const response = await slowClient(s).create();
  assert.equal(response.message, 'OK', `CREATE answered ${response.message}`);
  const data = response.data as unknown as CreatedData;
  const session = s.sessions.list().find((row) => row.port === data.container_listen_port)!;
  const publishedPort = Number(docker(['port', session.containerId, '22/tcp']).split(':').at(-1));
  return { ...data, containerId: session.containerId, publishedPort };
}

function isRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The sandbox's forwarder stopped with `reason`, and nothing listens on its port any more. */
async function assertForwarderGone(s: ForwardingServer, port: number, reason: DestroyReason): Promise<void> {
  await until(() => s.stopped.some((e) => e.port === port), SLOW_CREATE_MS);
  assert.deepEqual(s.stopped.find((e) => e.port === port), { port, reason });
  assert.equal(s.server.forwarderCount(), 0);
  assert.ok(await isRefused(port), `port ${port} still accepts connections`);
}

describe('port forwarders on the real Docker backend', () => {
  it('logs in over real SSH through the forwarder port, which is not the port docker publishes', async () => {
    const s = await start();
    const sandbox = await create(s);
    assert.notEqual(sandbox.container_listen_port, sandbox.publishedPort);
    const result = await sshRun(sandbox.container_listen_port, sandbox.container_username, sandbox.container_password, 'whoami');
    assert.deepEqual([result.code, result.stdout.trim()], [0, sandbox.container_username]);
    await servers.stop(s);
  });

  it('stops the forwarder on DESTROY and cuts the SSH session open through it', async () => {
    const s = await start();
    const sandbox = await create(s);
    const login = await sshOpen(sandbox.container_listen_port, sandbox.container_username, sandbox.container_password);
    assert.equal((await slowClient(s).destroy(sandbox.container_uuid, sandbox.client_token)).message, 'OK');
    await assertForwarderGone(s, sandbox.container_listen_port, 'destroy_request');
    await login.close();
    await servers.stop(s);
  });

  it('stops the forwarder of a sandbox killed behind the server\'s back', async () => {
    const s = await start();
    const sandbox = await create(s);
    docker(['kill', sandbox.containerId]);
    await assertForwarderGone(s, sandbox.container_listen_port, 'died');
    await servers.stop(s);
  });

  it('stops the forwarder when the sandbox reaches max_lifetime', async () => {
    const s = await start({ maxLifetimeSeconds: 2, maxRenewedLifetimeSeconds: null });
    const sandbox = await create(s);
    await assertForwarderGone(s, sandbox.container_listen_port, 'expired');
    await servers.stop(s);
  });

  it('stops the forwarder when nobody logs in within idle_timeout', async () => {
    const s = await start({ maxLifetimeSeconds: null, idleTimeoutSeconds: 2 });
    const sandbox = await create(s);
    await assertForwarderGone(s, sandbox.container_listen_port, 'idle');
    await servers.stop(s);
  });

  it('leaves no listening socket after a server stop that keeps the sandboxes', async () => {
    const s = await start({ destroyOnStop: false });
    const sandbox = await create(s);
    await servers.stop(s);
    assert.deepEqual(s.stopped, [{ port: sandbox.container_listen_port, reason: 'server_stopped' }]);
    assert.equal(s.server.forwarderCount(), 0);
    assert.ok(await isRefused(sandbox.container_listen_port));
    docker(['rm', '-f', sandbox.containerId]);
  });
});
