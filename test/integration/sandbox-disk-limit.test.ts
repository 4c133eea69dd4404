// container.disk_limit on a dockerd that enforces it (scripts/dockerd.sh btrfs mode): a sandbox filling its disk stops at the limit, over real SSH.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { statfsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DockerVirtualization } from '../../src/virtualization/docker/docker-virtualization.js';
import type { Sandbox } from '../../src/virtualization/virtualization-interface.js';
import { closeBackend, docker, dockerHost, SANDBOX_IMAGE, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';

const MiB = 1024 * 1024;
/** What a sandbox may write above its image (on btrfs the limit counts the image too). */
const ROOM_MiB = 160;
/** Asked of dd: well past the limit, so an unenforced limit shows. */
const WRITE_MiB = 400;
const QUOTA_ERROR = /Disk quota exceeded|No space left on device/;
const driver = docker(['info', '--format', '{{.Driver}}']);
const serverId = uniqueServerId('disk');

function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return stats.bavail * stats.bsize;
}

interface Login {
  sandbox: Sandbox;
  run: (command: string) => ReturnType<typeof sshRun>;
}

describe('sandbox disk limit', { skip: driver === 'btrfs' ? false : `needs a dockerd that enforces disk limits (storage driver ${driver}; scripts/dockerd.sh with ANWEDDOL_DOCKERD_STORAGE=btrfs)` }, () => {
  let backend: DockerVirtualization;
  let imageMiB: number;
  let limitMiB: number;
  let n = 0;

  async function login(): Promise<Login> {
    const spec = { uuid: randomUUID(), username: `user_${20000 + ++n}`, password: `Pw0rdDiskLimit${randomUUID().replaceAll('-', '')}` };
    const sandbox = await backend.create(spec);
    return { sandbox, run: (command) => sshRun(sandbox.port, spec.username, spec.password, command, 60_000) };
  }

  /** dd past the limit into the home folder; answers dd's message and the size the file reached. */
  async function fill(login: Login, name: string): Promise<{ message: string; bytes: number }> {
    const result = await login.run(`dd if=/dev/zero of=$HOME/${name} bs=1M count=${WRITE_MiB} 2>&1; sync; stat -c %s $HOME/${name}`);
    const lines = result.stdout.trim().split('\n');
    return { message: lines.slice(0, -1).join('\n'), bytes: Number(lines.at(-1)) };
  }

  before(async () => {
    dockerHost();
    imageMiB = Math.ceil(Number(docker(['image', 'inspect', '--format', '{{.Size}}', SANDBOX_IMAGE])) / MiB);
    limitMiB = imageMiB + ROOM_MiB;
    backend = new DockerVirtualization({ dockerHost: dockerHost(), image: SANDBOX_IMAGE, serverId, publishedAddress: '127.0.0.1', portRange: [12000, 12999], memoryMiB: 256, vcpus: 1, diskLimitMiB: limitMiB });
    await backend.start();
    assert.equal(backend.isAvailable(), true);
  });

  after(() => closeBackend(backend, serverId));

  it('stops a write past the limit with a quota error, near the limit', async (t) => {
    const sandbox = await login();
    try {
      const { message, bytes } = await fill(sandbox, 'fill');
      assert.match(message, QUOTA_ERROR);
      // The image counts against the limit on btrfs: what was written plus the image lands just under it.
      const used = bytes + imageMiB * MiB;
      t.diagnostic(`limit ${limitMiB} MiB, image ${imageMiB} MiB, dd wrote ${(bytes / MiB).toFixed(1)} MiB: ${message.split('\n')[0]}`);
      assert.ok(used <= limitMiB * MiB && used >= 0.85 * limitMiB * MiB, `wrote ${Math.round(bytes / MiB)} MiB over a ${imageMiB} MiB image under a ${limitMiB} MiB limit`);
    } finally {
      await backend.destroy(sandbox.sandbox.id);
    }
  });

  it('takes no more than the limit from the host data root', async (t) => {
    const dataRoot = docker(['info', '--format', '{{.DockerRootDir}}']);
    const sandbox = await login();
    try {
      const before = freeBytes(dataRoot);
      await fill(sandbox, 'fill');
      const taken = before - freeBytes(dataRoot);
      t.diagnostic(`host data root lost ${(taken / MiB).toFixed(1)} MiB to a sandbox asked to write ${WRITE_MiB} MiB`);
      assert.ok(taken < (ROOM_MiB + 32) * MiB, `the host lost ${Math.round(taken / MiB)} MiB`);
    } finally {
      await backend.destroy(sandbox.sandbox.id);
    }
  });

  it('lets another sandbox write while one is at its limit', async () => {
    const full = await login();
    const other = await login().catch(async (error: unknown) => {
      await backend.destroy(full.sandbox.id);
      throw error;
    });
    try {
      assert.match((await fill(full, 'fill')).message, QUOTA_ERROR);
      const write = await other.run('dd if=/dev/zero of=$HOME/ok bs=1M count=50 2>&1 && sync && stat -c %s $HOME/ok');
      assert.equal(write.code, 0, write.stdout);
      assert.equal(write.stdout.trim().split('\n').at(-1), String(50 * MiB));
    } finally {
      await Promise.all([backend.destroy(full.sandbox.id), backend.destroy(other.sandbox.id)]);
    }
  });
});
