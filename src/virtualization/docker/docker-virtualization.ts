// The Docker sandbox backend (the only module family that talks to dockerd): the facade over the engine connection and the sandbox lifecycle.
import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../../shared/logger.js';
import type {
  ExecResult,
  Sandbox,
  SandboxFile,
  SandboxNetworkInfo,
  SandboxSpec,
  VirtualizationEvents,
  VirtualizationInterface,
} from '../virtualization-interface.js';
import { resolveLimits, type ContainerSettings } from './container-spec.js';
import { putFilesInContainer, runInContainer } from './container-exec.js';
import { DockerEngine } from './docker-engine.js';
import { countSshSessions, PROCESS_TABLE_PS_ARGS, processTable } from '../ssh-sessions.js';
import { bindProbe, PortPool } from './port-pool.js';
import { SandboxLifecycle } from './sandbox-lifecycle.js';
import { SshWaitStrategy, type WaitStrategy } from './ssh-wait-strategy.js';

export { PORT_LABEL, SERVER_LABEL, UUID_LABEL } from './container-spec.js';

export interface DockerVirtualizationOptions {
  /** `unix:///path/docker.sock` or `tcp://host:port`; default `$DOCKER_HOST` semantics of dockerode. */
  dockerHost?: string;
  image?: string;
  /** Ownership label `anweddol.server=<serverId>`: what this server created, lists and cleans up. */
  serverId: string;
  /** Address the forwarded SSH ports bind to. */
  publishedAddress?: string;
  portRange?: [number, number];
  memoryMiB?: number;
  vcpus?: number;
  pidsLimit?: number;
  /** Open files per sandbox process (RLIMIT_NOFILE); default 4096. */
  nofileLimit?: number;
  /** Processes per user (RLIMIT_NPROC); the kernel counts it per UID across all sandboxes; default 4096. */
  nprocLimit?: number;
  /** Writable layer size per sandbox in MiB; null or absent: none. start() throws DiskLimitUnsupportedError when the engine cannot enforce it. */
  diskLimitMiB?: number | null;
  readyTimeoutSeconds?: number;
  /** Passwordless sudo for the client; requires giving up no-new-privileges and the capability drop. */
  clientSudo?: boolean;
  /** seccomp profile JSON every sandbox runs under (deriveSandboxProfile: no btrfs ioctls); null or absent: Docker's built-in profile. */
  seccompProfile?: string | null;
  /**
   * User-defined bridge the sandboxes live on (created with inter-container traffic disabled). Default: one per
   * server, `<serverId>-sandboxes`, so two servers' egress rules never meet on one bridge; removed at close when empty.
   */
  networkName?: string;
  logger?: Logger;
  /** Readiness check; default: an SSH banner through the published port. */
  waitStrategy?: WaitStrategy;
  /** Ceiling of the reconnection backoff. */
  maxReconnectDelayMs?: number;
  /**
   * Runs on every (re)connection once the network is known, before the backend reports itself available
   * (e.g. installing egress rules): if it throws, the backend stays unavailable (a BackendConfigurationError at start is thrown).
   */
  beforeAvailable?: (network: SandboxNetworkInfo) => Promise<void>;
}

/** How long close() waits for dockerd to answer abandoned creations so their containers can be removed. */
const LATE_REMOVAL_WAIT_MS = 30_000;

export class DockerVirtualization extends EventEmitter implements VirtualizationInterface {
  readonly name = 'docker';
  private readonly engine: DockerEngine;
  private readonly lifecycle: SandboxLifecycle;
  private readonly logger: Logger;

  constructor(readonly options: DockerVirtualizationOptions) {
    super();
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(options.serverId)) throw new RangeError('serverId must be 1-64 chars of [A-Za-z0-9_.-]');
    const settings: ContainerSettings = {
      image: options.image ?? 'anweddol/sandbox:latest',
      serverId: options.serverId,
      networkName: options.networkName ?? `${options.serverId}-sandboxes`,
      publishedAddress: options.publishedAddress ?? '0.0.0.0',
      clientSudo: options.clientSudo ?? false,
      seccompProfile: options.seccompProfile ?? null,
      limits: resolveLimits({
        memoryMiB: options.memoryMiB,
        vcpus: options.vcpus,
        pidsLimit: options.pidsLimit,
        nofileLimit: options.nofileLimit,
        nprocLimit: options.nprocLimit,
        diskLimitMiB: options.diskLimitMiB,
      }),
    };
    const [first, last] = options.portRange ?? [10000, 15000];
    const ports = new PortPool(first, last, bindProbe(settings.publishedAddress));
    const readyTimeoutSeconds = options.readyTimeoutSeconds ?? 30;
    if (!(readyTimeoutSeconds > 0)) throw new RangeError('readyTimeoutSeconds must be > 0');
    const logger = options.logger ?? silentLogger;
    this.logger = logger;
    this.engine = new DockerEngine({
      dockerHost: options.dockerHost,
      serverId: options.serverId,
      logger,
      maxReconnectDelayMs: options.maxReconnectDelayMs ?? 5000,
      prepare: async () => {
        await this.lifecycle.prepare();
        await options.beforeAvailable?.(this.lifecycle.networkInfo()!);
      },
    });
    this.lifecycle = new SandboxLifecycle({
      engine: this.engine,
      settings,
      ports,
      wait: options.waitStrategy ?? new SshWaitStrategy({ timeoutMs: readyTimeoutSeconds * 1000 }),
      logger,
      onSandboxEnded: (sandbox) => this.emit('sandbox_ended', sandbox),
    });
    this.engine.on('availability_changed', (available) => this.emit('availability_changed', available));
  }

  override on<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this {
    return super.on(event, listener);
  }

  override off<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this {
    return super.off(event, listener);
  }

  isAvailable(): boolean {
    return this.engine.isAvailable();
  }

  gatewayAddress(): string | undefined {
    return this.lifecycle.networkInfo()?.gateway;
  }

  networkInfo(): SandboxNetworkInfo | undefined {
    return this.lifecycle.networkInfo();
  }

  /** Ports currently handed to sandboxes (for tests and statistics). */
  portsInUse(): number {
    return this.lifecycle.portsInUse();
  }

  start(): Promise<void> {
    return this.engine.start();
  }

  async close(): Promise<void> {
    await this.lifecycle.settleLateRemovals(LATE_REMOVAL_WAIT_MS);
    if (this.engine.isAvailable()) {
      await this.lifecycle.releaseNetwork().catch((error: unknown) => this.logger.debug(`sandbox network kept: ${error instanceof Error ? error.message : String(error)}`));
    }
    return this.engine.close();
  }

  create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    return this.lifecycle.create(spec, signal);
  }

  destroy(id: string): Promise<void> {
    return this.lifecycle.destroy(id);
  }

  list(): Promise<Sandbox[]> {
    return this.lifecycle.list();
  }

  exec(id: string, cmd: string[], options: { user?: string; env?: Record<string, string>; detach?: boolean; timeoutMs?: number } = {}): Promise<ExecResult> {
    return runInContainer(this.engine.docker, id, cmd, options);
  }

  /** Reads the process table with `docker top` (ps on the engine's host): no exec inside the sandbox, ≈ 20 ms. */
  async countSshSessions(id: string): Promise<number> {
    const top = (await this.engine.docker.getContainer(id).top({ ps_args: PROCESS_TABLE_PS_ARGS })) as { Titles?: string[]; Processes?: string[][] };
    return countSshSessions(processTable(top));
  }

  putFiles(id: string, directory: string, files: SandboxFile[]): Promise<void> {
    return putFilesInContainer(this.engine.docker, id, directory, files);
  }
}
