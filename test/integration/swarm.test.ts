// The daemon on a real two-node swarm (scripts/swarm.sh): placement on both nodes, SSH logins, per-node capacity, drained and dead nodes, egress rules on every node.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { serverIdFor } from '../../src/daemon/virtualization-factory.js';
import type { CreatedSandbox as Created } from '../../src/server/sandbox-manager.js';
import type { DestroyedSandboxPayload } from '../../src/server/server-events.js';
import { egressChains } from '../../src/virtualization/egress/egress-firewall.js';
import { ipvsAvailable, NO_IPVS_MESSAGE } from '../../src/virtualization/swarm/routing-mesh.js';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { docker, dockerHost, SANDBOX_IMAGE, sshOpen, sshRun } from '../helpers/docker-sandbox.js';
import {
  killWorkerDockerd,
  MANAGER_ADDRESS,
  MANAGER_HOST,
  managerHostname,
  pushSandboxImage,
  REGISTRY,
  setAvailability,
  swarmDown,
  swarmUp,
  WORKER_ADDRESS,
  WORKER_HOST,
  WORKER_HOSTNAME,
  WORKER_NETNS,
  workerIptables,
} from '../helpers/swarm-harness.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));

/** A sandbox and the node it runs on; clients only ever see the server's forwarded port. */
type Placed = Created & { host: string };

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - started;
}

describe('the daemon on a two-node swarm', { timeout: 600_000 }, () => {
  let install: TestInstall;
  let daemon: RunningDaemon | undefined;
  let client: AnweddolTcpClient;
  const destroyed: DestroyedSandboxPayload[] = [];

  before(async () => {
    swarmUp();
    // Pushed as build-image does with swarm.registry; the daemon resolves the tag to that digest reference.
    pushSandboxImage();
    install = await createTestInstall({
      docker: { host: MANAGER_HOST, mode: 'swarm' },
      container: { image: SANDBOX_IMAGE, disk_limit: null, container_memory: 512, max_allowed_running_container_domains: 4, max_per_client: null, create_rate: null, warm_pool_size: 0 },
      swarm: {
        registry: REGISTRY,
        max_per_node: 2,
        nodes: {
          [managerHostname()]: { docker: MANAGER_HOST, iptables: ['iptables'] },
          [WORKER_HOSTNAME]: { docker: WORKER_HOST, iptables: ['ip', 'netns', 'exec', WORKER_NETNS, 'iptables'] },
        },
      },
      network: { egress: 'internet' },
      // The coordinator where both nodes' sandboxes reach it: the manager's swarm address, on this host.
      fl: { enabled: true, advertise_address: MANAGER_ADDRESS },
    });
    daemon = await startDaemon(loadConfig(install.configPath, {}));
    daemon.server.on('destroyed_container', (payload) => void destroyed.push(payload));
    client = new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 60_000 });
    // A fresh worker first pulls the image from the registry: until it is prepared, only the manager takes sandboxes.
    await until('both nodes take sandboxes (STAT available 4)', async () => (await available()) === 4, 180_000);
  });

  after(async () => {
    try {
      await daemon?.stop();
    } finally {
      try {
        install?.remove();
      } finally {
        swarmDown();
      }
    }
  });

  async function create(): Promise<Placed> {
    const response = await client.create();
    assert.equal(response.success, true, response.message);
    const data = response.data as unknown as Created;
    const sandbox = (await daemon!.server.options.virtualization!.list()).find((s) => s.uuid === data.container_uuid);
    assert.ok(sandbox?.host !== undefined, 'the sandbox runs on a node');
    return { ...data, host: sandbox.host };
  }

  async function destroyAll(sandboxes: Placed[]): Promise<void> {
    for (const s of sandboxes) assert.equal((await client.destroy(s.container_uuid, s.client_token)).success, true);
  }

  async function available(): Promise<unknown> {
    return (await client.stat()).data.available;
  }

  it("spreads two CREATEs over both nodes, logs in over SSH on each through the server's forwarded port, and DESTROY removes their services", async () => {
    const sandboxes = [await create(), await create()];
    try {
      assert.deepEqual(sandboxes.map((s) => s.host).sort(), [MANAGER_ADDRESS, WORKER_ADDRESS]);
      for (const s of sandboxes) {
        const login = await sshRun(s.container_listen_port, s.container_username, s.container_password, 'id -un');
        assert.equal(login.stdout.trim(), s.container_username);
      }
    } finally {
      await destroyAll(sandboxes);
    }
    const label = `label=anweddol.server=${serverIdFor(loadConfig(install.configPath, {}))}`;
    assert.equal(docker(['service', 'ls', '-q', '--filter', label], MANAGER_HOST), '');
    // Nothing of them runs once DESTROY has answered (swarm alone would stop their containers seconds later).
    for (const host of [MANAGER_HOST, WORKER_HOST]) assert.equal(docker(['ps', '-aq', '--filter', label], host), '', `containers left on ${host}`);
  });

  it('runs an FL training whose clients sit on both nodes, reaching the coordinator at fl.advertise_address', async () => {
    const hosts: Promise<string | undefined>[] = [];
    const onCreated = (payload: { container_id: string; fl: unknown }) => {
      if (payload.fl === null) return;
      hosts.push(daemon!.server.options.virtualization!.list().then((all) => all.find((s) => s.id === payload.container_id)?.host));
    };
    daemon!.server.on('created_container', onCreated);
    try {
      const args = ['fl', 'train', '--clients', '2', '--rounds', '2', '--model', 'logreg', '--dataset', DIGITS, '--split', 'iid', '--local-epochs', '1', '--lr', '0.1', '--min-clients', '2', '--round-timeout', '60', '--json'];
      const run = await runCli([...args, '--config', install.configPath], { timeoutMs: 300_000 });
      assert.equal(run.code, 0, run.stderr.slice(-2000) + run.stdout);
      const data = jsonOf(run).data as { rounds: Array<{ round: number; clients: number }> };
      assert.deepEqual(data.rounds.map((r) => [r.round, r.clients]), [[1, 2], [2, 2]]);
    } finally {
      daemon!.server.off('created_container', onCreated);
    }
    assert.deepEqual((await Promise.all(hosts)).sort(), [MANAGER_ADDRESS, WORKER_ADDRESS]);
  });

  it('counts the SSH sessions of a sandbox on the worker through its engine (idle detection)', async () => {
    const backend = daemon!.server.options.virtualization!;
    const sandboxes = [await create(), await create()];
    try {
      const onWorker = sandboxes.find((s) => s.host === WORKER_ADDRESS)!;
      const id = (await backend.list()).find((s) => s.uuid === onWorker.container_uuid)!.id;
      assert.equal(await backend.countSshSessions(id), 0);
      const session = await sshOpen(onWorker.container_listen_port, onWorker.container_username, onWorker.container_password);
      try {
        await until('the session to show', async () => (await backend.countSshSessions(id)) === 1, 10_000);
      } finally {
        await session.close();
      }
    } finally {
      await destroyAll(sandboxes);
    }
  });

  it('installs the egress rules on the worker: a sandbox there cannot reach the manager', async () => {
    const sandboxes = [await create(), await create()];
    try {
      const onWorker = sandboxes.find((s) => s.host === WORKER_ADDRESS)!;
      const chains = egressChains(serverIdFor(loadConfig(install.configPath, {})));
      assert.match(workerIptables(['-S', 'DOCKER-USER']), new RegExp(`-j ${chains.forward}$`, 'm'));
      const probe = await sshRun(onWorker.container_listen_port, onWorker.container_username, onWorker.container_password, `timeout 3 bash -c 'echo > /dev/tcp/${MANAGER_ADDRESS}/2377' && echo reached || echo blocked`);
      assert.equal(probe.stdout.trim(), 'blocked');
    } finally {
      await destroyAll(sandboxes);
    }
  });

  it('STAT counts what max_per_node leaves, and a full swarm answers Unavailable', async () => {
    assert.equal(await available(), 4);
    setAvailability(WORKER_HOSTNAME, 'drain');
    try {
      await until('the drained worker to leave the count', async () => (await available()) === 2, 10_000);
      const sandboxes = [await create(), await create()];
      try {
        assert.deepEqual(sandboxes.map((s) => s.host), [MANAGER_ADDRESS, MANAGER_ADDRESS]);
        assert.equal(await available(), 0);
        const refused = await client.create();
        assert.equal(refused.success, false);
        assert.match(refused.message, /Unavailable/);
      } finally {
        await destroyAll(sandboxes);
      }
    } finally {
      setAvailability(WORKER_HOSTNAME, 'active');
    }
    await until('the worker to count again', async () => (await available()) === 4, 10_000);
  });

  it('reports a sandbox whose service was removed behind its back (removed) and frees its slot', async () => {
    const sandbox = await create();
    const serviceId = (await daemon!.server.options.virtualization!.list()).find((s) => s.uuid === sandbox.container_uuid)!.id;
    docker(['service', 'rm', serviceId], MANAGER_HOST);
    await until('removed', () => destroyed.some((d) => d.reason === 'removed' && d.container_uuid === sandbox.container_uuid), 10_000);
    await until('its slot to come back', async () => (await available()) === 4, 10_000);
  });

  it('reports the sandboxes of a drained node lost (node_lost) within 10 s and frees their slots', async () => {
    const sandboxes = [await create(), await create()];
    const lostUuid = sandboxes.find((s) => s.host === WORKER_ADDRESS)!.container_uuid;
    setAvailability(WORKER_HOSTNAME, 'drain');
    try {
      const seconds = (await until('node_lost', () => destroyed.some((d) => d.reason === 'node_lost' && d.container_uuid === lostUuid), 10_000)) / 1000;
      console.log(`# drained worker: node_lost after ${seconds.toFixed(1)} s`);
      assert.equal((await client.destroy(lostUuid, sandboxes.find((s) => s.container_uuid === lostUuid)!.client_token)).success, false);
      const next = await create();
      assert.equal(next.host, MANAGER_ADDRESS);
      await destroyAll([next, ...sandboxes.filter((s) => s.container_uuid !== lostUuid)]);
    } finally {
      setAvailability(WORKER_HOSTNAME, 'active');
    }
    await until('the worker to count again', async () => (await available()) === 4, 10_000);
  });

  it('reports the sandboxes of a node whose engine died lost (node_lost) within 10 s and frees their slots', async () => {
    const sandboxes = [await create(), await create()];
    const lost = sandboxes.find((s) => s.host === WORKER_ADDRESS)!;
    destroyed.length = 0;
    killWorkerDockerd();
    const seconds = (await until('node_lost', () => destroyed.some((d) => d.reason === 'node_lost' && d.container_uuid === lost.container_uuid), 15_000)) / 1000;
    console.log(`# killed worker dockerd: node_lost after ${seconds.toFixed(1)} s`);
    assert.ok(seconds <= 10, `reported after ${seconds} s`);
    // Only the manager's slots are left: one taken, one free.
    assert.equal(await available(), 1);
    await destroyAll(sandboxes.filter((s) => s !== lost));
  });
});

describe('docker.mode: swarm on an engine that is not a manager', () => {
  it('start --check names docker.host as no swarm manager', async () => {
    const install = await createTestInstall({ docker: { host: dockerHost(), mode: 'swarm' }, container: { disk_limit: null } });
    try {
      const problems = jsonOf(await runCli(['start', '--check', '--json', '--config', install.configPath])).data.problems as string[];
      assert.deepEqual(problems.filter((p) => p.startsWith('docker.')), [
        `docker.mode: swarm, but docker.host ${dockerHost()} is not a swarm manager (docker swarm init, or point docker.host at a manager)`,
      ]);
    } finally {
      install.remove();
    }
  });
});

describe('swarm.publish: ingress on a host without IPVS (checked before anything of the swarm)', () => {
  it('is refused by start --check and by the daemon at start, naming IPVS', async (t) => {
    if (ipvsAvailable()) return t.skip('this host has IPVS: the routing mesh can work here');
    const install = await createTestInstall({ docker: { host: dockerHost(), mode: 'swarm' }, container: { disk_limit: null }, swarm: { publish: 'ingress' } });
    try {
      const problems = jsonOf(await runCli(['start', '--check', '--json', '--config', install.configPath])).data.problems as string[];
      assert.ok(problems.includes(NO_IPVS_MESSAGE), problems.join('\n'));
      await assert.rejects(startDaemon(loadConfig(install.configPath, {})), (error: Error) => error.message.includes('no IPVS'));
    } finally {
      install.remove();
    }
  });
});
