// container.disk_limit on swarm nodes: the btrfs qgroup limit the engine's `--storage-opt size=` sets, applied through the node's btrfs command to a sandbox's writable subvolume.
import type Docker from 'dockerode';
import { commandPrefixExec, type CommandExec } from '../command-prefix.js';
import { runInContainer } from '../docker/container-exec.js';
import { assertRoomAboveImage } from '../docker/disk-limit-support.js';
import { describe } from '../docker/docker-engine.js';
import { NodeEngines, type NodeEndpoint } from './node-engines.js';
import type { SwarmNode } from './swarm-state.js';
import { readSnapshot } from './swarm-watch.js';

const BTRFS_TIMEOUT_MS = 15_000;
/** Docker's btrfs driver keeps a container's writable layer in `<data root>/btrfs/subvolumes/<64-hex mount id>`. */
const RW_SUBVOLUME = /\/btrfs\/subvolumes\/[0-9a-f]{64}$/;

/**
 * The btrfs subvolume id of a container's root filesystem, from its /proc/<pid>/mountinfo (root mount, `subvolid=`).
 * Anything but Docker's writable layer subvolume is refused: a limit on the wrong qgroup (the top level, 5) would cap the whole node.
 */
export function rwSubvolumeId(mountinfo: string): number {
  for (const line of mountinfo.split('\n')) {
    const [mount, superBlock] = line.split(' - ');
    const fields = mount?.split(' ') ?? [];
    if (fields[4] !== '/' || superBlock === undefined) continue;
    const [fsType, , options = ''] = superBlock.split(' ');
    if (fsType !== 'btrfs') throw new Error(`the sandbox's root filesystem is ${fsType}, not btrfs`);
    const id = /(?:^|,)subvolid=(\d+)(?:,|$)/.exec(options)?.[1];
    const path = /(?:^|,)subvol=([^,]+)/.exec(options)?.[1];
    if (id === undefined || path === undefined || !RW_SUBVOLUME.test(path) || Number(id) < 256) {
      throw new Error(`the sandbox's root is not a Docker writable-layer subvolume (${path ?? 'no subvol'}, id ${id ?? 'none'})`);
    }
    return Number(id);
  }
  throw new Error('no root mount in the sandbox mountinfo');
}

/** `btrfs qgroup limit`: referenced bytes of the subvolume's level-0 qgroup, as moby's btrfs driver sets them. */
export function qgroupLimitArgs(subvolumeId: number, bytes: number, path: string): string[] {
  return ['qgroup', 'limit', String(bytes), `0/${subvolumeId}`, path];
}

export interface NodeDiskLimitsOptions {
  diskLimitMiB: number;
  btrfsOf: (node: SwarmNode) => readonly string[] | null;
}

/** Per node: checked at preparation (btrfs driver, quotas on, room above the image), then one limit per new sandbox. */
export class NodeDiskLimits {
  /** Node id → its btrfs command and Docker data root, once checked. */
  private readonly ready = new Map<string, { btrfs: CommandExec; root: string }>();

  constructor(private readonly options: NodeDiskLimitsOptions) {}

  get bytes(): number {
    return this.options.diskLimitMiB * 1024 * 1024;
  }

  /** Throws why this node cannot cap a sandbox's disk; it then gets no sandboxes. */
  async checkNode(node: SwarmNode, docker: Docker, image: string): Promise<void> {
    this.ready.delete(node.id);
    const command = this.options.btrfsOf(node);
    if (command === null) throw new Error('container.disk_limit is set but this node has no btrfs command (swarm.nodes.<node>.btrfs)');
    const info = (await docker.info()) as { Driver?: string; DockerRootDir?: string };
    if (info.Driver !== 'btrfs' || info.DockerRootDir === undefined) {
      throw new Error(`its storage driver is ${info.Driver ?? 'unknown'}: a swarm sandbox's disk limit needs the btrfs driver with quotas on`);
    }
    const btrfs = commandPrefixExec(command, BTRFS_TIMEOUT_MS);
    // Fails with "quotas not enabled" (btrfs quota enable <data root>), or when the command cannot run there.
    await btrfs(['qgroup', 'show', '-f', info.DockerRootDir]).catch((error: Error) => {
      throw new Error(`btrfs quotas unusable on ${info.DockerRootDir}: ${error.message}`, { cause: error });
    });
    await assertRoomAboveImage(docker, image, this.options.diskLimitMiB);
    this.ready.set(node.id, { btrfs, root: info.DockerRootDir });
  }

  /** Before any credential exists: the limit on the sandbox's writable subvolume, found from inside (root, through the node's engine). */
  async apply(node: SwarmNode, docker: Docker, containerId: string, signal?: AbortSignal): Promise<void> {
    const ready = this.ready.get(node.id);
    if (ready === undefined) throw new Error(`node ${node.hostname} was not checked for disk limits`);
    const mounts = await runInContainer(docker, containerId, ['cat', '/proc/self/mountinfo'], { timeoutMs: 10_000, signal });
    if (mounts.exitCode !== 0) throw new Error(`cannot read the sandbox mountinfo (exit ${mounts.exitCode})`);
    await ready.btrfs(qgroupLimitArgs(rwSubvolumeId(mounts.stdout), this.bytes, ready.root));
  }
}

/** `start --check`: what each usable node's preparation will say about the disk limit, one line per node that cannot cap sandboxes. */
export async function swarmDiskLimitProblems(manager: Docker, endpoints: Readonly<Record<string, NodeEndpoint>>, options: NodeDiskLimitsOptions, image: string): Promise<string[]> {
  const engines = new NodeEngines(manager, endpoints);
  engines.setManagerNodeId(((await manager.info()) as { Swarm?: { NodeID?: string } }).Swarm?.NodeID);
  const limits = new NodeDiskLimits(options);
  const problems: string[] = [];
  for (const node of (await readSnapshot(manager)).nodes.values()) {
    const docker = node.usable ? engines.engineOf(node) : undefined;
    if (docker === undefined) continue;
    await limits.checkNode(node, docker, image).catch((error: unknown) => problems.push(`swarm node ${node.hostname} will get no sandboxes: ${describe(error)}`));
  }
  return problems;
}
