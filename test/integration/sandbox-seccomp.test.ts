// container.seccomp_profile through the daemon on a btrfs dockerd: a client logged in with its CREATE credentials cannot make a btrfs subvolume (whose writes would escape disk_limit), and still has its disk limit and its terminal.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { DEFAULT_SECCOMP_PROFILE } from '../../src/daemon/config/config-schema.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import type { CreatedSandbox } from '../../src/server/sandbox-manager.js';
import { SUBVOLUME_PROBE, SUBVOLUME_REFUSED, TTY_PROBE } from '../helpers/btrfs-subvolume-probe.js';
import { createTestInstall, type TestInstall } from '../helpers/cli-runner.js';
import { docker, removeNetworkIfAny, SANDBOX_IMAGE, sshRun } from '../helpers/docker-sandbox.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

const MiB = 1024 * 1024;
/** What a sandbox may write above its image (on btrfs the limit counts the image too). */
const ROOM_MiB = 160;
const QUOTA_ERROR = /Disk quota exceeded/;
const dockerHost = process.env.DOCKER_HOST;
const driver = dockerHost?.startsWith('unix://') ? docker(['info', '--format', '{{.Driver}}']) : 'none';
const NETWORK = `anw-seccomp-${process.pid}`;

describe('sandboxes under the derived seccomp profile', { skip: driver === 'btrfs' ? false : `needs the private dockerd on btrfs (DOCKER_HOST unix socket, storage driver ${driver})` }, () => {
  let install: TestInstall;
  let daemon: RunningDaemon;
  let client: AnweddolTcpClient;
  let sandbox: CreatedSandbox;
  const run = (command: string, options: { pty?: boolean } = {}) =>
    sshRun(sandbox.container_listen_port, sandbox.container_username, sandbox.container_password, command, 60_000, options);

  before(async () => {
    const imageMiB = Math.ceil(Number(docker(['image', 'inspect', '--format', '{{.Size}}', SANDBOX_IMAGE])) / MiB);
    install = await createTestInstall({
      docker: { host: dockerHost! },
      container: { image: SANDBOX_IMAGE, network_name: NETWORK, disk_limit: imageMiB + ROOM_MiB, seccomp_profile: DEFAULT_SECCOMP_PROFILE, container_memory: 256, container_vcpus: 1 },
      network: { egress: 'open' },
    });
    daemon = await startDaemon(loadConfig(install.configPath, {}));
    client = new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 180_000 });
    const created = await client.create();
    assert.equal(created.success, true, created.message);
    sandbox = created.data as unknown as CreatedSandbox;
  });

  after(async () => {
    await daemon?.stop();
    install?.remove();
    removeNetworkIfAny(NETWORK);
  });

  it('refuses the client a nested btrfs subvolume (BTRFS_IOC_SUBVOL_CREATE: Operation not permitted)', async () => {
    const probe = await run(SUBVOLUME_PROBE);
    assert.equal(probe.stdout.trim(), SUBVOLUME_REFUSED, probe.stdout + probe.stderr);
  });

  it('still stops a write past container.disk_limit in /tmp with "Disk quota exceeded"', async () => {
    const fill = await run(`dd if=/dev/zero of=/tmp/fill bs=1M count=${ROOM_MiB * 2} 2>&1; rm -f /tmp/fill`);
    assert.match(fill.stdout, QUOTA_ERROR);
  });

  it('keeps the ioctls of a terminal login working', async () => {
    const tty = await run(TTY_PROBE, { pty: true });
    assert.match(tty.stdout, /tty-ok/, tty.stdout + tty.stderr);
  });
});
