// The engine backend's protections on a real two-node swarm (scripts/swarm.sh): disk limit, no btrfs subvolumes, no_new_privs and swap limit in sandboxes on both nodes, and a node that cannot cap disks gets none.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { serverIdFor } from '../../src/daemon/virtualization-factory.js';
import { SUBVOLUME_PROBE, SUBVOLUME_REFUSED } from '../helpers/btrfs-subvolume-probe.js';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { docker, ownSandboxImage, SANDBOX_CAP_BOUNDING_SET, sshRun } from '../helpers/docker-sandbox.js';
import {
  MANAGER_ADDRESS,
  MANAGER_HOST,
  managerHostname,
  pushImageToSwarmRegistry,
  REGISTRY,
  SWARM_DIR,
  swarmDown,
  swarmUp,
  WORKER_ADDRESS,
  WORKER_HOST,
  WORKER_HOSTNAME,
  workerCommand,
} from '../helpers/swarm-harness.js';
import { testClientKeyPair } from '../helpers/test-keys.js';
import { until } from '../helpers/until.js';
import type { CreatedSandbox as Created } from '../../src/server/sandbox-manager.js';

const MiB = 1024 * 1024;
/** Small enough to fill quickly, above the image (≈ 300 MiB, which btrfs counts too) plus room to log in. */
const DISK_LIMIT_MiB = 410;
const MEMORY_MiB = 512;

type Placed = Created & { host: string };
type NodeCommands = { manager: string[]; worker: string[] };

/** One daemon on the swarm with these btrfs commands per node; sandboxes are logged into through its forwarded ports. */
class SwarmDaemon {
  private constructor(
    readonly install: TestInstall,
    readonly daemon: RunningDaemon,
    private readonly client: AnweddolTcpClient,
  ) {}

  static async start(btrfs: NodeCommands, maxPerNode: number | null): Promise<SwarmDaemon> {
    const install = await createTestInstall({
      docker: { host: MANAGER_HOST, mode: 'swarm' },
      container: { image, disk_limit: DISK_LIMIT_MiB, container_memory: MEMORY_MiB, max_allowed_running_container_domains: 4, max_per_client: null, create_rate: null },
      swarm: {
        registry: REGISTRY,
        max_per_node: maxPerNode,
        nodes: {
          [managerHostname()]: { docker: MANAGER_HOST, btrfs: btrfs.manager },
          [WORKER_HOSTNAME]: { docker: WORKER_HOST, btrfs: btrfs.worker },
        },
      },
      network: { egress: 'open' },
    });
    try {
      const daemon = await startDaemon(loadConfig(install.configPath, {}));
      const client = new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 60_000 });
      return new SwarmDaemon(install, daemon, client);
    } catch (error) {
      install.remove();
      throw error;
    }
  }

  async stop(): Promise<void> {
    try {
      await this.daemon.stop();
    } finally {
      this.install.remove();
    }
  }

  async create(): Promise<Placed> {
    const response = await this.client.create();
    // The daemon's errors say why (a node excluded, a protection that failed).
    assert.equal(response.success, true, `${response.message}\n${this.log().split('\n').filter((line) => / (ERROR|WARN) /.test(line)).join('\n')}`);
    const data = response.data as unknown as Created;
    const sandbox = (await this.daemon.server.options.virtualization!.list()).find((s) => s.uuid === data.container_uuid);
    assert.ok(sandbox?.host !== undefined, 'the sandbox runs on a node');
    return { ...data, host: sandbox.host };
  }

  /** A fresh worker first pulls the image from the registry: until it is prepared, only the manager takes sandboxes. */
  async untilAvailable(count: number): Promise<void> {
    await until(async () => (await this.client.stat()).data.available === count, 180_000, { what: `STAT available ${count}`, everyMs: 200 });
  }

  createResponse(): ReturnType<AnweddolTcpClient['create']> {
    return this.client.create();
  }

  async destroy(sandbox: Placed): Promise<void> {
    assert.equal((await this.client.destroy(sandbox.container_uuid, sandbox.client_token)).success, true);
  }

  services(): string {
    return docker(['service', 'ls', '-q', '--filter', `label=anweddol.server=${serverIdFor(loadConfig(this.install.configPath, {}))}`], MANAGER_HOST);
  }

  log(): string {
    return readFileSync(join(this.install.dir, 'log', 'server.log'), 'utf8');
  }
}

function login(s: Placed, command: string): ReturnType<typeof sshRun> {
  return sshRun(s.container_listen_port, s.container_username, s.container_password, command, 60_000);
}

const WORKER_DATA_ROOT = join(SWARM_DIR, 'worker', 'btrfs');
/** Set once the swarm is up: this checkout's sandbox image, pushed to the swarm's registry. */
let image = '';
const BTRFS: NodeCommands = { manager: ['btrfs'], worker: workerCommand('btrfs') };

describe('sandbox protections on a two-node swarm', { timeout: 600_000 }, () => {
  before(() => {
    swarmUp();
    // This checkout's image (its entrypoint honours ANWEDDOL_NO_NEW_PRIVS), whatever `latest` is on the shared engine now.
    image = ownSandboxImage();
    pushImageToSwarmRegistry(image);
  });

  after(() => swarmDown());

  describe('with both nodes able to cap disks', () => {
    let swarm: SwarmDaemon;
    /** One sandbox per node (max_per_node 1). */
    const sandboxes: Placed[] = [];

    before(async () => {
      swarm = await SwarmDaemon.start(BTRFS, 1);
      await swarm.untilAvailable(2);
      sandboxes.push(await swarm.create());
      sandboxes.push(await swarm.create());
      assert.deepEqual(sandboxes.map((s) => s.host).sort(), [MANAGER_ADDRESS, WORKER_ADDRESS]);
    });

    after(async () => {
      try {
        for (const s of sandboxes) await swarm.destroy(s);
      } finally {
        await swarm?.stop();
      }
    });

    it('stops a write past container.disk_limit with "Disk quota exceeded" on each node', async (t) => {
      for (const s of sandboxes) {
        // The file goes afterwards: the other tests log into the same sandboxes.
        const result = await login(s, `dd if=/dev/zero of=$HOME/fill bs=1M count=${DISK_LIMIT_MiB} 2>&1; sync; stat -c %s $HOME/fill; rm -f $HOME/fill`);
        const lines = result.stdout.trim().split('\n');
        const bytes = Number(lines.at(-1));
        t.diagnostic(`${s.host}: dd wrote ${(bytes / MiB).toFixed(1)} MiB under a ${DISK_LIMIT_MiB} MiB limit: ${lines[0]}`);
        assert.match(lines.slice(0, -1).join('\n'), /Disk quota exceeded/, `${s.host}: ${result.stdout}`);
        assert.ok(bytes < DISK_LIMIT_MiB * MiB, `${s.host}: wrote ${bytes} bytes`);
      }
    });

    it('runs the login shell on each node with no_new_privs and only the sandbox capabilities in its bounding set', async () => {
      for (const s of sandboxes) {
        const result = await login(s, 'grep -E "^(CapBnd|NoNewPrivs):" /proc/$$/status');
        assert.deepEqual(result.stdout.trim().split('\n'), [`CapBnd:\t${SANDBOX_CAP_BOUNDING_SET}`, 'NoNewPrivs:\t1'], s.host);
      }
    });

    it('refuses the client a btrfs subvolume on each node (the nodes run the sandboxes\' seccomp profile)', async () => {
      for (const s of sandboxes) {
        const result = await login(s, SUBVOLUME_PROBE);
        assert.equal(result.stdout.trim(), SUBVOLUME_REFUSED, `${s.host}: ${result.stdout}${result.stderr}`);
      }
    });

    it('gives a sandbox on each node no swap above its memory limit', async () => {
      for (const s of sandboxes) {
        const result = await login(s, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
        assert.deepEqual(result.stdout.trim().split('\n'), [String(MEMORY_MiB * MiB), String(MEMORY_MiB * MiB)], `${s.host}: ${result.stderr}`);
      }
    });
  });

  describe('with a worker that cannot cap disks', () => {
    let swarm: SwarmDaemon;

    before(async () => {
      swarm = await SwarmDaemon.start({ ...BTRFS, worker: workerCommand('/nonexistent/btrfs') }, null);
    });

    after(async () => swarm?.stop());

    it('start --check names the worker as unable to cap sandbox disks, and only it', async () => {
      const run = await runCli(['start', '--check', '--json', '--config', swarm.install.configPath]);
      const problems = (jsonOf(run).data.problems as string[]).filter((p) => p.startsWith('container.disk_limit'));
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.ok(problems[0]!.startsWith(`container.disk_limit: swarm node ${WORKER_HOSTNAME} will get no sandboxes: btrfs quotas unusable on ${WORKER_DATA_ROOT}: `), problems[0]);
    });

    it('places every sandbox on the manager, and logs once why the worker gets none', async () => {
      const sandboxes = [await swarm.create(), await swarm.create()];
      try {
        assert.deepEqual(sandboxes.map((s) => s.host), [MANAGER_ADDRESS, MANAGER_ADDRESS]);
        const lines = swarm.log().split('\n').filter((line) => line.includes(`swarm node ${WORKER_HOSTNAME} gets no sandboxes`));
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.match(lines[0]!, /btrfs quotas unusable/);
      } finally {
        for (const s of sandboxes) await swarm.destroy(s);
      }
    });
  });

  describe('with a limit that fails to apply on the only eligible node', () => {
    let swarm: SwarmDaemon;

    before(async () => {
      // The worker passes preparation (`qgroup show` works) but refuses `qgroup limit`; the manager cannot cap disks at all.
      const refusesLimit = workerCommand('sh', '-c', 'if [ "$2" = limit ]; then echo "limit refused" >&2; exit 1; fi; exec btrfs "$@"', 'btrfs');
      swarm = await SwarmDaemon.start({ manager: ['/nonexistent/btrfs'], worker: refusesLimit }, null);
    });

    after(async () => swarm?.stop());

    it('answers CREATE Unavailable and leaves no service or container behind', async () => {
      const response = await swarm.createResponse();
      assert.equal(response.success, false);
      assert.match(response.message, /Unavailable/);
      assert.equal(swarm.services(), '');
      // The swarm removes the task's container on its node shortly after the service.
      const label = `label=anweddol.server=${serverIdFor(loadConfig(swarm.install.configPath, {}))}`;
      await until(() => docker(['ps', '-aq', '--filter', label], WORKER_HOST) === '', 20_000, { what: 'the task container to go', everyMs: 200 });
      assert.match(swarm.log(), /swarm node anweddol-swarm-worker gets no sandboxes: sandbox hardening failed: disk limit: limit refused/);
    });
  });
});
