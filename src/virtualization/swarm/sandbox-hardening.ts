// What a swarm sandbox gets through its node before any credential exists, where Docker's service API (1.41) cannot carry it: the disk limit, the swap limit, no_new_privs, the seccomp profile's check.
import type Docker from 'dockerode';
import { BackendUnavailableError } from '../../shared/errors.js';
import { runInContainer } from '../docker/container-exec.js';
import { describe } from '../docker/docker-engine.js';
import { NodeDiskLimits } from './node-disk-limit.js';
import type { ExecResult } from '../virtualization-interface.js';
import type { SwarmNode } from './swarm-state.js';

/** The entrypoint (iso/entrypoint.sh) re-executes itself under `setpriv --no-new-privs` when this is 1: sshd and every login inherit it. */
export const NO_NEW_PRIVS_ENV = 'ANWEDDOL_NO_NEW_PRIVS';

/** The service's environment: no_new_privs unless the client has sudo (which it would forbid), as the engine backend's SecurityOpt. */
export function hardeningEnv(clientSudo: boolean): string[] {
  return clientSudo ? [] : [`${NO_NEW_PRIVS_ENV}=1`];
}

/** An exec under no_new_privs, as the engine gives every exec of a no-new-privileges container. */
export function withNoNewPrivs(cmd: readonly string[]): string[] {
  return ['setpriv', '--no-new-privs', ...cmd];
}

/** `NoNewPrivs:` of a /proc/<pid>/status; undefined when absent. */
export function noNewPrivsOf(status: string): boolean | undefined {
  const match = /^NoNewPrivs:\s*([01])\s*$/m.exec(status);
  return match === null ? undefined : match[1] === '1';
}

/**
 * BTRFS_IOC_SUBVOL_CREATE on a fresh folder (a shell string: `sh -c`), as a stranger in the sandbox would try it to escape
 * the disk limit; prints `CREATED` when the subvolume was made, `refused: <errno text>` otherwise.
 */
export const SUBVOLUME_PROBE =
  'd=$(mktemp -d) && perl -e \'opendir(my $d, $ARGV[0]) or die "opendir: $!"; open(my $fh, "<", $ARGV[0]) or die "open: $!"; ' +
  'my $args = pack("q Z4088", 0, "sub"); my $r = ioctl($fh, 0x5000940e, $args); print $r ? "CREATED\\n" : "refused: $!\\n";\' "$d"';

/** The answer of a node whose dockerd runs the sandboxes' profile (`dockerd --seccomp-profile`): the ioctl is denied by seccomp. */
export const SUBVOLUME_REFUSED = 'refused: Operation not permitted';

/** Why a probe's answer does not prove the seccomp refusal (a subvolume made, or a probe that could not run); undefined when it does. */
export function subvolumeProbeProblem(probe: ExecResult): string | undefined {
  if (probe.stdout.trim() === SUBVOLUME_REFUSED) return undefined;
  const answer = (probe.stdout.trim() || probe.stderr.trim() || `exit ${probe.exitCode}`).slice(0, 200);
  return (
    `the sandbox could create a btrfs subvolume, whose writes escape the disk limit, or the probe could not tell (probe: ${answer}); ` +
    "run the node's dockerd with --seccomp-profile FILE (anweddol-server seccomp-profile --out FILE)"
  );
}

export interface SandboxHardeningOptions {
  clientSudo: boolean;
  memoryMiB: number;
  /** `container.disk_limit` (MiB); null: no limit, and nodes need no btrfs. */
  diskLimitMiB: number | null;
  /** The node's btrfs command prefix (`swarm.nodes.<node>.btrfs`); null: the node cannot have a disk limit. */
  btrfsOf: (node: SwarmNode) => readonly string[] | null;
  /** A protection failed on this node (the sandbox goes and the CREATE fails): the node should get no more for now. */
  onNodeFailure: (node: SwarmNode, why: string) => void;
}

/** The client is told only that its node could not protect the sandbox; the operator's log has why. */
export class SandboxHardeningError extends BackendUnavailableError {
  constructor(readonly detail: string) {
    super('the sandbox could not be hardened on its node');
  }
}

export class SandboxHardening {
  private readonly disk: NodeDiskLimits | undefined;

  constructor(private readonly options: SandboxHardeningOptions) {
    const limit = options.diskLimitMiB;
    this.disk = limit === null ? undefined : new NodeDiskLimits({ diskLimitMiB: limit, btrfsOf: options.btrfsOf });
  }

  /** Node preparation: whether this node can enforce the disk limit (throws why not). */
  async checkNode(node: SwarmNode, docker: Docker, image: string): Promise<void> {
    await this.disk?.checkNode(node, docker, image);
  }

  /** As soon as the task container runs: disk and swap limits. */
  async limit(node: SwarmNode, docker: Docker, containerId: string, signal?: AbortSignal): Promise<void> {
    await this.step(node, signal, 'disk limit', async () => this.disk?.apply(node, docker, containerId, signal));
    const bytes = this.options.memoryMiB * 1024 * 1024;
    // Swap equal to memory: no swap on top of the limit (a service gets twice its memory otherwise).
    await this.step(node, signal, 'swap limit', () => docker.getContainer(containerId).update({ Memory: bytes, MemorySwap: bytes }));
  }

  /** Once sshd answers (PID 1 has exec'd it): PID 1 runs with no_new_privs, so an image that ignores the request is caught. */
  async verifyNoNewPrivs(node: SwarmNode, docker: Docker, containerId: string, signal?: AbortSignal): Promise<void> {
    if (this.options.clientSudo) return;
    await this.step(node, signal, 'no_new_privs', async () => {
      const status = await runInContainer(docker, containerId, ['cat', '/proc/1/status'], { timeoutMs: 10_000, signal });
      if (noNewPrivsOf(status.stdout) !== true) {
        throw new Error(`PID 1 runs without no_new_privs (an image older than ${NO_NEW_PRIVS_ENV} support: rebuild it with build-image)`);
      }
    });
  }

  /**
   * With a disk limit, before any credential: a service cannot carry a seccomp profile, so the node's dockerd must run the
   * sandboxes' one; the probe runs as root (which seccomp filters all the same) and anything but its refusal fails the node.
   */
  async verifySeccomp(node: SwarmNode, docker: Docker, containerId: string, signal?: AbortSignal): Promise<void> {
    if (this.options.diskLimitMiB === null) return;
    await this.step(node, signal, 'seccomp profile', async () => {
      const problem = subvolumeProbeProblem(await runInContainer(docker, containerId, ['sh', '-c', SUBVOLUME_PROBE], { timeoutMs: 10_000, signal }));
      if (problem !== undefined) throw new Error(problem);
    });
  }

  private async step(node: SwarmNode, signal: AbortSignal | undefined, what: string, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (error) {
      // A CREATE given up (timeout, daemon closing) says nothing about the node.
      if (signal?.aborted === true) throw error;
      const failure = new SandboxHardeningError(`${what}: ${describe(error)}`);
      this.options.onNodeFailure(node, failure.detail);
      throw failure;
    }
  }
}
