// Sandbox lifetimes end to end: real TCP client → AnweddolServer → real dockerd sandboxes, real SSH logins, SQLite sessions.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AnweddolServer, AnweddolServerOptions } from '../../src/server/anweddol-server.js';
import { silentLogger } from '../../src/shared/logger.js';
import { PROCESS_TABLE_PS_ARGS } from '../../src/virtualization/ssh-sessions.js';
import { containersOf, docker, dockerHost, SANDBOX_IMAGE, sshOpen, uniqueServerId } from '../helpers/docker-sandbox.js';
import { SandboxServerFiles } from '../helpers/sandbox-server-files.js';
import type { CreatedData, SandboxServer } from '../helpers/sandbox-server.js';
import { until } from '../helpers/until.js';

const serverId = uniqueServerId('lifetimes');
const servers = new SandboxServerFiles('lifetimes', { noneLeft: true });

interface Destroyed {
  containerId: string;
  reason: string;
  at: number;
}

interface LifetimeServer extends SandboxServer {
  /** `destroyed_container` events, when they came (the container removal done). */
  destroyed: Destroyed[];
  /** When the server began destroying each sandbox past its deadline (its "reached its …" log line), by 12-hex container id. */
  expiring: Map<string, number>;
}

async function start(server: Partial<AnweddolServerOptions>, databaseFile = servers.databaseFile()): Promise<LifetimeServer> {
  const destroyed: Destroyed[] = [];
  const expiring = new Map<string, number>();
  const record = (s: AnweddolServer) => s.on('destroyed_container', (ctx) => void destroyed.push({ containerId: ctx.container_id, reason: ctx.reason, at: Date.now() }));
  const logger = {
    ...silentLogger,
    // A CREATE answered `Internal error` (seen once under load) shows its cause in the test output.
    error: (line: string) => console.error(`server error: ${line}`),
    warn: (line: string) => console.error(`server warning: ${line}`),
    info: (line: string) => {
      const id = /^sandbox ([0-9a-f]{12}) reached its/.exec(line)?.[1];
      if (id !== undefined && !expiring.has(id)) expiring.set(id, Date.now());
    },
  };
  const s = await servers.start({
    databaseFile,
    maxSandboxes: 2,
    backend: { dockerHost: dockerHost(), image: SANDBOX_IMAGE, serverId, portRange: [13400, 13499] },
    serverOptions: { logger, ...server },
    beforeStart: record,
  });
  return Object.assign(s, { destroyed, expiring });
}

/** How long after `since` the server began destroying the sandbox, and how long after that it was gone. */
function timing(s: LifetimeServer, containerId: string, since: number): { started: number; removal: number } {
  const began = s.expiring.get(containerId.slice(0, 12));
  const ended = s.destroyed.find((d) => d.containerId === containerId)?.at;
  assert.ok(began !== undefined && ended !== undefined, 'destroyed by its lifetime');
  return { started: began - since, removal: ended - began };
}

async function create(s: SandboxServer): Promise<CreatedData & { containerId: string; deadlineMs: number | null }> {
  const response = await s.client.create();
  assert.equal(response.message, 'OK', `CREATE answered ${response.message}`);
  const data = response.data as unknown as CreatedData;
  const session = s.sessions.list().find((row) => row.port === data.container_listen_port)!;
  return { ...data, containerId: session.containerId, deadlineMs: session.expiresAt };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function available(s: SandboxServer): Promise<unknown> {
  return (await s.client.stat()).data.available;
}

describe('sandbox lifetimes on the real Docker backend', () => {
  it('destroys a sandbox within 2 s of max_lifetime, frees its slot and port, with reason "expired"', async (t) => {
    const s = await start({ maxLifetimeSeconds: 3, maxRenewedLifetimeSeconds: null });
    const sandbox = await create(s);
    assert.equal(sandbox.expires_at, Math.floor(sandbox.deadlineMs! / 1000));
    assert.equal(await available(s), 1);
    await until(() => s.destroyed.length > 0, 3000 + 2000 + 10_000);
    const [event] = s.destroyed;
    assert.equal(event?.reason, 'expired');
    assert.equal(event?.containerId, sandbox.containerId);
    const { started, removal } = timing(s, sandbox.containerId, sandbox.deadlineMs!);
    t.diagnostic(`destroy began ${started} ms after the deadline; the container was gone ${removal} ms later`);
    // What the scheduler owns; the removal itself is dockerd's time (≈ 0.3 s, more on a loaded machine).
    assert.ok(started >= 0 && started <= 2000, `destroy began ${started} ms after its deadline`);
    assert.deepEqual(containersOf(serverId), []);
    assert.equal(s.backend.portsInUse(), 0);
    assert.equal(await available(s), 2);
    await servers.stop(s);
  });

  it('keeps a sandbox with an SSH session open past idle_timeout, and destroys it idle_timeout after the session closes', async (t) => {
    const s = await start({ maxLifetimeSeconds: null, idleTimeoutSeconds: 4 });
    const sandbox = await create(s);
    const login = await sshOpen(sandbox.container_listen_port, sandbox.container_username, sandbox.container_password);
    await sleep(8000);
    assert.equal(s.destroyed.length, 0, 'destroyed while a session was open');
    await login.close();
    const closedAt = Date.now();
    await until(() => s.destroyed.length > 0, 4000 + 1000 + 2000 + 10_000);
    assert.equal(s.destroyed[0]?.reason, 'idle');
    const { started, removal } = timing(s, sandbox.containerId, closedAt);
    t.diagnostic(`destroy began ${started} ms after the session closed (idle_timeout 4000 ms); the container was gone ${removal} ms later`);
    // At least idle_timeout; at most idle_timeout + one probe interval (1 s) + 2 s.
    assert.ok(started >= 4000 && started <= 7000, `destroy began ${started} ms after the session closed`);
    assert.deepEqual(containersOf(serverId), []);
    await servers.stop(s);
  });

  it('destroys a sandbox nobody logs into after idle_timeout', async () => {
    const s = await start({ maxLifetimeSeconds: null, idleTimeoutSeconds: 3 });
    const sandbox = await create(s);
    // The idle clock starts when the session is recorded.
    const createdAt = s.sessions.list()[0]!.createdAt;
    await until(() => s.destroyed.length > 0, 3000 + 2000 + 10_000);
    assert.equal(s.destroyed[0]?.reason, 'idle');
    const { started } = timing(s, sandbox.containerId, createdAt);
    assert.ok(started >= 3000 && started <= 5000, `destroy began ${started} ms after the sandbox was created`);
    await servers.stop(s);
  });

  it('extends a deadline on RENEW, never beyond max_renewed_lifetime', async () => {
    const s = await start({ maxLifetimeSeconds: 3, maxRenewedLifetimeSeconds: 5 });
    const sandbox = await create(s);
    const createdAt = s.sessions.list()[0]!.createdAt;
    await sleep(1500);
    const first = await s.client.renew(sandbox.container_uuid, sandbox.client_token);
    assert.equal(first.message, 'OK');
    assert.ok((first.data.expires_at as number) > sandbox.expires_at!, 'the deadline moved');
    await sleep(sandbox.deadlineMs! - Date.now() + 500);
    assert.equal(s.destroyed.length, 0, 'alive past its first deadline');
    const second = await s.client.renew(sandbox.container_uuid, sandbox.client_token);
    assert.equal(second.data.expires_at, Math.floor((createdAt + 5000) / 1000), 'capped at max_renewed_lifetime');
    await until(() => s.destroyed.length > 0, createdAt + 5000 + 2000 + 10_000 - Date.now());
    assert.equal(s.destroyed[0]?.reason, 'expired');
    assert.ok(timing(s, sandbox.containerId, createdAt + 5000).started <= 2000);
    assert.equal((await s.client.renew(sandbox.container_uuid, sandbox.client_token)).message, 'Bad authentication');
    await servers.stop(s);
  });

  it('reads a bounded process table, however long the command lines a sandbox user runs', async () => {
    const s = await start({ maxLifetimeSeconds: null, idleTimeoutSeconds: 60 });
    const sandbox = await create(s);
    try {
      // 100 shells (and their sleeps, within the pids limit) with a 100 KB command line each: 10 MB if ps printed them whole.
      const spawn = 'a=$(head -c 100000 /dev/zero | tr "\\0" x); for i in $(seq 100); do bash -c "sleep 30; :" "$a" >/dev/null 2>&1 & done; sleep 1';
      const run = await s.backend.exec(sandbox.containerId, ['bash', '-c', spawn], { user: sandbox.container_username });
      assert.equal(run.exitCode, 0, run.stderr);
      const table = docker(['top', sandbox.containerId, ...PROCESS_TABLE_PS_ARGS.split(' ')]);
      assert.ok(table.split('\n').length > 200, 'the processes are there');
      assert.ok(table.length < 64 * 1024, `process table of ${table.length} bytes`);
      assert.equal(await s.backend.countSshSessions(sandbox.containerId), 0);
    } finally {
      await servers.stop(s);
      docker(['rm', '-f', sandbox.containerId]);
    }
  });

  it('destroys at start, with reason "expired", a sandbox whose deadline passed while the server was down', async () => {
    const databaseFile = join(servers.dir, 'restart.sqlite');
    const first = await start({ maxLifetimeSeconds: 3, maxRenewedLifetimeSeconds: null }, databaseFile);
    const sandbox = await create(first);
    await servers.stop(first);
    assert.equal(containersOf(serverId).length, 1, 'stop with destroyOnStop false keeps the sandbox');
    await sleep(sandbox.deadlineMs! - Date.now() + 500);
    const second = await start({ maxLifetimeSeconds: 3, maxRenewedLifetimeSeconds: null }, databaseFile);
    // Already done when start() resolved.
    assert.deepEqual(second.destroyed.map((d) => [d.containerId, d.reason]), [[sandbox.containerId, 'expired']]);
    assert.deepEqual(containersOf(serverId), []);
    assert.equal(second.sessions.count(), 0);
    await servers.stop(second);
  });
});
