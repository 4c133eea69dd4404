// Sandbox lifetimes, daemon restarts (kept sandboxes, orphans, deadlines passed while down, SIGKILL) and the warm pool on a real two-node swarm.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import type { DestroyedSandboxPayload } from '../../src/server/server-events.js';
import { startForeground, type Foreground, type TestInstall } from '../helpers/cli-runner.js';
import { sshOpen, sshRun } from '../helpers/docker-sandbox.js';
import { until } from '../helpers/until.js';
import { managerHostname, pushSandboxImage, swarmDown, swarmUp, WORKER_HOSTNAME } from '../helpers/swarm-harness.js';
import {
  createOn,
  editSessions,
  hasService,
  nodeContainersOf,
  nodeOf,
  portRefuses,
  serverIdOf,
  servicesOf,
  sessionRows,
  swarmClient,
  swarmInstall,
  unplacedService,
  workerReady,
  type CreatedOnSwarm,
} from '../helpers/swarm-daemon.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An in-process daemon on the swarm, its client, and the `destroyed_container` events it fired. */
interface SwarmDaemon {
  install: TestInstall;
  daemon: RunningDaemon;
  client: AnweddolTcpClient;
  destroyed: DestroyedSandboxPayload[];
}

const installs: TestInstall[] = [];
const daemons = new Set<RunningDaemon>();
const foregrounds = new Set<Foreground>();

/** Resolves once STAT shows `available` (both nodes prepared: a fresh worker pulls the image first). */
async function startOn(install: TestInstall, available = 4): Promise<SwarmDaemon> {
  const daemon = await startDaemon(loadConfig(install.configPath, {}));
  daemons.add(daemon);
  const destroyed: DestroyedSandboxPayload[] = [];
  daemon.server.on('destroyed_container', (payload) => void destroyed.push(payload));
  const client = await swarmClient(install);
  await bothNodesTake(client, available);
  return { install, daemon, client, destroyed };
}

async function bothNodesTake(client: AnweddolTcpClient, expected = 4): Promise<void> {
  await until(async () => (await available(client)) === expected, 180_000, { what: `STAT available ${expected}`, everyMs: 250 });
}

async function startSwarmDaemon(container: Record<string, unknown>): Promise<SwarmDaemon> {
  const install = await swarmInstall(container);
  installs.push(install);
  return startOn(install);
}

async function stop(d: SwarmDaemon): Promise<void> {
  daemons.delete(d.daemon);
  await d.daemon.stop();
}

/** `count` CREATEs, one per node first (the spread places them so). */
async function createMany(client: AnweddolTcpClient, count: number): Promise<CreatedOnSwarm[]> {
  const created: CreatedOnSwarm[] = [];
  for (let i = 0; i < count; i++) created.push(await createOn(client));
  return created;
}

const available = async (client: AnweddolTcpClient) => (await client.stat()).data.available;

const login = async (s: CreatedOnSwarm) => (await sshRun(s.container_listen_port, s.container_username, s.container_password, 'id -un')).stdout.trim();

// Expiries know the backend id only (sessions keep a hash of the uuid).
const destroyedAs = (d: SwarmDaemon, s: CreatedOnSwarm) => d.destroyed.find((e) => e.container_id === s.id)?.reason;

/** The sandbox image by registry digest. */
let image: string;

before(async () => {
  swarmUp();
  image = pushSandboxImage();
  await until(workerReady, 60_000, { what: 'the worker ready', everyMs: 100 });
});

after(async () => {
  try {
    for (const daemon of daemons) await daemon.stop();
    for (const f of foregrounds) f.child.kill('SIGKILL');
    for (const install of installs) {
      const left = servicesOf(serverIdOf(install));
      assert.deepEqual(left, [], `services left by ${serverIdOf(install)}`);
      install.remove();
    }
  } finally {
    swarmDown();
  }
});

describe('lifetimes on a swarm', { timeout: 180_000 }, () => {
  let d: SwarmDaemon;
  before(async () => {
    d = await startSwarmDaemon({ max_lifetime: 10, max_renewed_lifetime: 60, idle_timeout: null });
  });
  after(() => stop(d));

  it('destroys the sandboxes of both nodes at max_lifetime (expired): services, forwarders, sessions and slots freed', async () => {
    const sandboxes = await createMany(d.client, 2);
    assert.deepEqual(sandboxes.map((s) => nodeOf(s.container_uuid)).sort(), [managerHostname(), WORKER_HOSTNAME].sort());
    assert.equal(await available(d.client), 2);
    const deadline = Math.max(...sandboxes.map((s) => s.expires_at!)) * 1000;
    await until(() => sandboxes.every((s) => destroyedAs(d, s) !== undefined), deadline - Date.now() + 10_000, { what: 'both expired', everyMs: 100 });
    assert.deepEqual(sandboxes.map((s) => destroyedAs(d, s)), ['expired', 'expired']);
    assert.deepEqual(servicesOf(serverIdOf(d.install)), []);
    for (const s of sandboxes) assert.equal(await portRefuses(s.container_listen_port), true, `forwarder on ${s.container_listen_port} still listens`);
    assert.deepEqual(sessionRows(d.install), []);
    assert.equal(await available(d.client), 4);
    await until(() => nodeContainersOf(serverIdOf(d.install)).length === 0, 20_000, { what: 'their containers gone from both nodes', everyMs: 500 });
  });

  it('keeps a renewed sandbox on the worker past its first deadline', async () => {
    const sandboxes = await createMany(d.client, 2);
    const onWorker = sandboxes.find((s) => nodeOf(s.container_uuid) === WORKER_HOSTNAME)!;
    // RENEW gives max_lifetime from now: halfway through, it moves the deadline 5 s on.
    await sleep(5000);
    const renewed = await d.client.renew(onWorker.container_uuid, onWorker.client_token);
    assert.equal(renewed.message, 'OK');
    assert.ok((renewed.data.expires_at as number) >= onWorker.expires_at! + 4, 'the deadline moved');
    await until(() => sandboxes.some((s) => destroyedAs(d, s) === 'expired'), onWorker.expires_at! * 1000 - Date.now() + 10_000, { what: 'the other one expired', everyMs: 100 });
    await sleep(onWorker.expires_at! * 1000 + 2000 - Date.now());
    assert.equal(destroyedAs(d, onWorker), undefined);
    assert.equal(await login(onWorker), onWorker.container_username);
    assert.equal((await d.client.destroy(onWorker.container_uuid, onWorker.client_token)).success, true);
  });
});

describe('idle_timeout on a swarm', { timeout: 120_000 }, () => {
  it('keeps a sandbox on the worker while an SSH session is open, and destroys it (idle) idle_timeout after the session closes', async () => {
    const d = await startSwarmDaemon({ max_lifetime: null, idle_timeout: 5 });
    try {
      const sandboxes = await createMany(d.client, 2);
      const onWorker = sandboxes.find((s) => nodeOf(s.container_uuid) === WORKER_HOSTNAME)!;
      const session = await sshOpen(onWorker.container_listen_port, onWorker.container_username, onWorker.container_password);
      // The other sandbox, never logged into, goes at idle_timeout: the open session is what keeps this one.
      await until(() => sandboxes.some((s) => destroyedAs(d, s) === 'idle'), 15_000, { what: 'the unused one idle', everyMs: 100 });
      await sleep(3000);
      assert.equal(destroyedAs(d, onWorker), undefined, 'destroyed while a session was open');
      await session.close();
      const closedAt = Date.now();
      await until(() => destroyedAs(d, onWorker) !== undefined, 15_000, { what: 'idle after the session closed', everyMs: 100 });
      const seconds = (Date.now() - closedAt) / 1000;
      console.log(`# worker sandbox: idle destroy ${seconds.toFixed(1)} s after its SSH session closed (idle_timeout 5 s)`);
      assert.equal(destroyedAs(d, onWorker), 'idle');
      assert.ok(seconds >= 5, `destroyed ${seconds} s after the session closed`);
    } finally {
      await stop(d);
    }
  });
});

describe('a daemon stopped with destroy_on_stop: false and started again on a swarm', { timeout: 240_000 }, () => {
  let install: TestInstall;
  let d: SwarmDaemon;
  /** Kept on each node; deadline passed while down; session row lost while down. */
  let kept: CreatedOnSwarm[];
  let expired: CreatedOnSwarm;
  let orphan: CreatedOnSwarm;

  before(async () => {
    install = await swarmInstall({ destroy_on_stop: false, max_lifetime: 600 });
    installs.push(install);
    const first = await startOn(install);
    const sandboxes = await createMany(first.client, 4);
    const onWorker = sandboxes.filter((s) => nodeOf(s.container_uuid) === WORKER_HOSTNAME);
    const onManager = sandboxes.filter((s) => nodeOf(s.container_uuid) !== WORKER_HOSTNAME);
    assert.equal(onWorker.length, 2);
    kept = [onManager[0]!, onWorker[0]!];
    expired = onWorker[1]!;
    orphan = onManager[1]!;
    await stop(first);
    assert.equal(servicesOf(serverIdOf(install)).length, 4, 'the stop kept every sandbox');
    editSessions(install, 'UPDATE sessions SET expires_at = ? WHERE container_id = ?', Date.now() - 1000, expired.id);
    editSessions(install, 'DELETE FROM sessions WHERE container_id = ?', orphan.id);
    d = await startOn(install, 2);
  });
  after(async () => {
    // What the stop would keep.
    for (const s of kept) await d.client.destroy(s.container_uuid, s.client_token);
    await stop(d);
  });

  it("forwards the kept sandboxes of both nodes again on the ports their clients were told: SSH logins work", async () => {
    for (const s of kept) assert.equal(await login(s), s.container_username);
  });

  it('counts the kept sandboxes in STAT', async () => {
    assert.equal(await available(d.client), 2);
  });

  it('removes at start the service whose session row is gone (orphan)', () => {
    assert.equal(hasService(serverIdOf(install), orphan.id), false);
  });

  it('destroys at start, as expired, the sandbox whose deadline passed while the daemon was down', async () => {
    assert.equal(hasService(serverIdOf(install), expired.id), false);
    assert.equal(await portRefuses(expired.container_listen_port), true);
    assert.match(readFileSync(join(install.dir, 'log/server.log'), 'utf8'), new RegExp(`sandbox ${expired.id.slice(0, 12)} reached its lifetime`));
    assert.deepEqual(sessionRows(install).map((r) => r.container_id).sort(), kept.map((s) => s.id).sort());
  });

  it('DESTROYs a kept sandbox with its token from before the restart, and stops its forwarder', async () => {
    const [s] = kept;
    assert.equal((await d.client.destroy(s!.container_uuid, s!.client_token)).success, true);
    assert.equal(hasService(serverIdOf(install), s!.id), false);
    assert.equal(await portRefuses(s!.container_listen_port), true);
    assert.equal(await available(d.client), 3);
  });
});

describe('a daemon killed (SIGKILL) on a swarm, then started again', { timeout: 300_000 }, () => {
  let install: TestInstall;
  let client: AnweddolTcpClient;
  let survivor: CreatedOnSwarm;
  let abandonedPool: string[];
  let unplaced: string;
  let restarted: Foreground;

  function startCli(): Foreground {
    const f = startForeground(['start', '--foreground', '--config', install.configPath]);
    foregrounds.add(f);
    return f;
  }

  before(async () => {
    install = await swarmInstall({ warm_pool_size: 2, max_lifetime: 600 });
    installs.push(install);
    const killed = startCli();
    await killed.firstLine;
    client = await swarmClient(install);
    await bothNodesTake(client);
    survivor = await createOn(client);
    await until(() => servicesOf(serverIdOf(install), true).length === 2, 120_000, { what: 'the pool refilled', everyMs: 500 });
    abandonedPool = servicesOf(serverIdOf(install), true);
    killed.child.kill('SIGKILL');
    await killed.exit;
    foregrounds.delete(killed);
    unplaced = unplacedService(serverIdOf(install), image);
    restarted = startCli();
    await restarted.firstLine;
  });

  after(async () => {
    restarted.child.kill('SIGTERM');
    assert.equal(await restarted.exit, 0);
    foregrounds.delete(restarted);
    assert.deepEqual(servicesOf(serverIdOf(install)), []);
  });

  it('forwards the surviving sandbox again on its port: SSH login, then DESTROY with its old token', async () => {
    assert.equal(await login(survivor), survivor.container_username);
    assert.equal((await client.destroy(survivor.container_uuid, survivor.client_token)).success, true);
    assert.equal(await portRefuses(survivor.container_listen_port), true);
  });

  it('removes at start a service the killed daemon was creating, whose task never ran', () => {
    assert.equal(hasService(serverIdOf(install), unplaced), false);
  });

  it('removes the pool services the killed daemon left, and fills the pool anew', async () => {
    const renewed = () => {
      const pool = servicesOf(serverIdOf(install), true);
      return pool.length === 2 && pool.every((id) => !abandonedPool.includes(id));
    };
    await until(renewed, 120_000, { what: 'a new pool of 2', everyMs: 500 });
  });
});

describe('the warm pool on a swarm', { timeout: 240_000 }, () => {
  let d: SwarmDaemon;
  const sources: string[] = [];

  before(async () => {
    d = await startSwarmDaemon({ warm_pool_size: 2 });
    d.daemon.server.observe({ sandboxCreated: (_seconds, source) => void sources.push(source) });
    await until(() => d.daemon.server.getRuntimeStatistics().warmPool.ready === 2, 120_000, { what: 'the pool filled', everyMs: 100 });
  });

  it('serves a CREATE from the pool: the client logs in over SSH, and the pool refills', async () => {
    const pooled = servicesOf(serverIdOf(d.install), true);
    const s = await createOn(d.client);
    assert.deepEqual(sources, ['pool']);
    assert.ok(pooled.includes(s.id.slice(0, 12)), 'the client got one of the ready services');
    assert.equal(await login(s), s.container_username);
    await until(() => d.daemon.server.getRuntimeStatistics().warmPool.ready === 2, 120_000, { what: 'the pool refilled', everyMs: 100 });
    assert.equal(servicesOf(serverIdOf(d.install), true).length, 3, 'the claimed one keeps its pool label; two new ready ones');
  });

  it('leaves no pool service, and no container on either node, at daemon stop', async () => {
    await stop(d);
    assert.deepEqual(servicesOf(serverIdOf(d.install)), []);
    await until(() => nodeContainersOf(serverIdOf(d.install)).length === 0, 30_000, { what: 'their containers gone from both nodes', everyMs: 500 });
  });
});
