import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Docker from 'dockerode';
import { NodeDiskLimits, qgroupLimitArgs, rwSubvolumeId } from '../../../src/virtualization/swarm/node-disk-limit.js';
import {
  noNewPrivsOf,
  SandboxHardening,
  SandboxHardeningError,
  SUBVOLUME_REFUSED,
  subvolumeProbeProblem,
  withNoNewPrivs,
} from '../../../src/virtualization/swarm/sandbox-hardening.js';
import type { SwarmNode } from '../../../src/virtualization/swarm/swarm-state.js';

const MOUNT_ID = 'a44b03ce285ea47076f8a2a22850c2124947ecebe6578e8fcb1eaf0a8e97a125';
/** A sandbox's /proc/self/mountinfo on Docker's btrfs driver (trimmed), as read on this machine. */
const MOUNTINFO = [
  `182 141 0:54 /btrfs/subvolumes/${MOUNT_ID} / rw,relatime master:2 - btrfs /dev/loop1 rw,discard=async,space_cache=v2,subvolid=288,subvol=/btrfs/subvolumes/${MOUNT_ID}`,
  '183 182 0:78 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw',
  `190 182 0:54 /btrfs/subvolumes/${MOUNT_ID}-init/etc/hosts /etc/hosts rw,relatime - btrfs /dev/loop1 rw,subvolid=287,subvol=/btrfs/subvolumes/${MOUNT_ID}-init`,
].join('\n');

const node: SwarmNode = { id: 'n1', hostname: 'worker1', address: '10.0.0.2', usable: true, lost: false };

describe('swarm sandbox hardening', () => {
  it("finds the writable layer's subvolume id on the root mount of a sandbox's mountinfo", () => {
    assert.equal(rwSubvolumeId(MOUNTINFO), 288);
  });

  it('finds it under a data root below the filesystem top (a production /var/lib/docker on a btrfs @ subvolume)', () => {
    assert.equal(rwSubvolumeId(MOUNTINFO.replace(`subvol=/btrfs`, 'subvol=/@/var/lib/docker/btrfs')), 288);
  });

  it('refuses a root that is the filesystem top level: a limit there would cap the whole node', () => {
    assert.throws(() => rwSubvolumeId(MOUNTINFO.replace('subvolid=288,subvol=/btrfs/subvolumes/' + MOUNT_ID, 'subvolid=5,subvol=/')), /not a Docker writable-layer subvolume/);
  });

  it("refuses the image's init layer and any other subvolume than a writable layer", () => {
    assert.throws(() => rwSubvolumeId(MOUNTINFO.replace(`subvol=/btrfs/subvolumes/${MOUNT_ID}\n`, `subvol=/btrfs/subvolumes/${MOUNT_ID}-init\n`)), /not a Docker writable-layer subvolume/);
  });

  it('refuses a root filesystem that is not btrfs', () => {
    assert.throws(() => rwSubvolumeId('100 90 0:50 / / rw - overlay overlay rw,lowerdir=/a'), /root filesystem is overlay, not btrfs/);
  });

  it('refuses a mountinfo without a root mount', () => {
    assert.throws(() => rwSubvolumeId('183 182 0:78 / /proc rw - proc proc rw'), /no root mount/);
  });

  it("limits the referenced bytes of the subvolume's level-0 qgroup, on the node's data root", () => {
    assert.deepEqual(qgroupLimitArgs(288, 410 * 1024 * 1024, '/var/lib/docker'), ['qgroup', 'limit', '429916160', '0/288', '/var/lib/docker']);
  });

  it('reads NoNewPrivs from a process status', () => {
    assert.equal(noNewPrivsOf('Name:\tsshd\nNoNewPrivs:\t1\nSeccomp:\t2\n'), true);
    assert.equal(noNewPrivsOf('Name:\tsshd\nNoNewPrivs:\t0\n'), false);
    assert.equal(noNewPrivsOf('Name:\tsshd\n'), undefined);
  });

  it('runs a backend exec under no_new_privs, as the engine does for a no-new-privileges container', () => {
    assert.deepEqual(withNoNewPrivs(['sh', '-c', 'x']), ['setpriv', '--no-new-privs', 'sh', '-c', 'x']);
  });

  it("accepts the seccomp refusal of the subvolume probe as proof of the node's profile", () => {
    assert.equal(subvolumeProbeProblem({ exitCode: 0, stdout: `${SUBVOLUME_REFUSED}\n`, stderr: '' }), undefined);
  });

  it('fails a node whose sandbox created the subvolume, naming the dockerd flag that fixes it', () => {
    assert.match(subvolumeProbeProblem({ exitCode: 0, stdout: 'CREATED\n', stderr: '' })!, /btrfs subvolume.*\(probe: CREATED\); run the node's dockerd with --seccomp-profile FILE/);
  });

  it('fails a node where the probe could not tell (another errno, no perl)', () => {
    assert.match(subvolumeProbeProblem({ exitCode: 0, stdout: 'refused: Inappropriate ioctl for device\n', stderr: '' })!, /probe: refused: Inappropriate ioctl/);
    assert.match(subvolumeProbeProblem({ exitCode: 127, stdout: '', stderr: 'sh: 1: perl: not found\n' })!, /probe: sh: 1: perl: not found/);
  });

  it('runs no probe without a disk limit (nothing to escape)', async () => {
    const hardening = new SandboxHardening({ clientSudo: false, memoryMiB: 512, diskLimitMiB: null, btrfsOf: () => null, onNodeFailure: () => assert.fail('no failure') });
    await hardening.verifySeccomp(node, { getContainer: () => assert.fail('no engine call') } as unknown as Docker, 'c1');
  });

  it('refuses a node without a btrfs command before asking its engine anything', async () => {
    const limits = new NodeDiskLimits({ diskLimitMiB: 410, btrfsOf: () => null });
    const docker = { info: () => assert.fail('no engine call') } as unknown as Docker;
    await assert.rejects(limits.checkNode(node, docker, 'img'), /no btrfs command \(swarm\.nodes\.<node>\.btrfs\)/);
  });

  it('refuses a node whose storage driver is not btrfs', async () => {
    const limits = new NodeDiskLimits({ diskLimitMiB: 410, btrfsOf: () => ['btrfs'] });
    const docker = { info: async () => ({ Driver: 'overlay2', DockerRootDir: '/var/lib/docker' }) } as unknown as Docker;
    await assert.rejects(limits.checkNode(node, docker, 'img'), /storage driver is overlay2/);
  });

  it('refuses to limit a sandbox on a node that was not checked', async () => {
    const limits = new NodeDiskLimits({ diskLimitMiB: 410, btrfsOf: () => ['btrfs'] });
    await assert.rejects(limits.apply(node, {} as Docker, 'c1'), /not checked for disk limits/);
  });

  it('reports the node and fails with a reason that names no internals when a limit cannot be set', async () => {
    const failures: string[] = [];
    const hardening = new SandboxHardening({ clientSudo: false, memoryMiB: 512, diskLimitMiB: null, btrfsOf: () => null, onNodeFailure: (n, why) => failures.push(`${n.hostname}: ${why}`) });
    const docker = { getContainer: () => ({ update: async () => Promise.reject(new Error('cgroup refused')) }) } as unknown as Docker;
    const error = await hardening.limit(node, docker, 'c1').catch((e: unknown) => e);
    assert.ok(error instanceof SandboxHardeningError);
    assert.equal(error.reason, 'the sandbox could not be hardened on its node');
    assert.deepEqual(failures, ['worker1: swap limit: cgroup refused']);
  });

  it('sets swap equal to memory through the node engine', async () => {
    const updates: unknown[] = [];
    const hardening = new SandboxHardening({ clientSudo: false, memoryMiB: 512, diskLimitMiB: null, btrfsOf: () => null, onNodeFailure: () => assert.fail('no failure') });
    const docker = { getContainer: () => ({ update: async (options: unknown) => void updates.push(options) }) } as unknown as Docker;
    await hardening.limit(node, docker, 'c1');
    assert.deepEqual(updates, [{ Memory: 512 * 1024 * 1024, MemorySwap: 512 * 1024 * 1024 }]);
  });

  it('blames no node for a step given up by the CREATE (timeout or close)', async () => {
    const hardening = new SandboxHardening({ clientSudo: false, memoryMiB: 512, diskLimitMiB: null, btrfsOf: () => null, onNodeFailure: () => assert.fail('the node is not at fault') });
    const aborted = AbortSignal.abort();
    const docker = { getContainer: () => ({ update: async () => Promise.reject(new Error('aborted')) }) } as unknown as Docker;
    await assert.rejects(hardening.limit(node, docker, 'c1', aborted), /aborted/);
  });
});
