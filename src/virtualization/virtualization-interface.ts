// The contract between the server and a sandbox backend (Docker today, Swarm later).

export interface SandboxSpec {
  /** Sandbox id handed to the client (lowercase UUID4); also a container label. */
  uuid: string;
  /** SSH user to create inside the sandbox (`user_NNNNN`) and its password. */
  username: string;
  password: string;
  /** Extra labels (e.g. an FL training id); the backend adds its own ownership labels. */
  labels?: Record<string, string>;
}

/** An address and port the daemon reaches a sandbox's sshd at. */
export interface SshEndpoint {
  host: string;
  port: number;
}

export interface Sandbox {
  /** Backend id (Docker container id). */
  id: string;
  uuid: string;
  /** Port of the sandbox's sshd, published on `host` (the engine backend: this host, `container.published_address`). */
  port: number;
  /**
   * Address `port` is published on when that is not the daemon's own host: a swarm node's address (its sandboxes are
   * reached at host:port, e.g. by the daemon's port forwarders). Absent for the engine backend.
   */
  host?: string;
  /** 64 lowercase hex: identity of the image the sandbox runs (`container_iso_sha256`). */
  imageSha256: string;
  labels: Record<string, string>;
  /** The sandbox's address on the backend's private network (reachable from the daemon only). */
  ipAddress?: string;
  /** Where the daemon reaches the sandbox's sshd with no published port in between (engine: bridge address:22), for `port_forwarding.mode: forwarder`. */
  sshEndpoint?: SshEndpoint;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface SandboxFile {
  /** Path relative to the target directory. */
  name: string;
  content: Buffer;
  /** Octal permission bits, default 0o644. */
  mode?: number;
  /** Numeric owner inside the sandbox, default 0 (root). */
  uid?: number;
  gid?: number;
}

/** The private network sandboxes live on, for host-side policy (egress rules scoped to its bridge). */
export interface SandboxNetworkInfo {
  /** Backend network name. */
  name: string;
  /** Host interface of the bridge (e.g. `br-0123456789ab`). */
  bridge: string;
  /** IPv4 subnet in CIDR form (e.g. `10.231.0.0/24`). */
  subnet: string;
  /** Address sandboxes reach the host at. */
  gateway: string;
  /** Whether the network carries IPv6 (sandboxes then have IPv6 addresses, which IPv4 rules do not cover). */
  ipv6: boolean;
}

/** `node_lost`: the swarm node running it went down or was drained. */
export type SandboxEndReason = 'stopped' | 'died' | 'removed' | 'oom' | 'node_lost';

export interface VirtualizationEvents {
  /** A sandbox ended without us asking (killed, crashed, removed behind our back). */
  sandbox_ended: (sandbox: { id: string; uuid?: string; reason: SandboxEndReason }) => void;
  /** Backend reachability changed (dockerd went away / came back). */
  availability_changed: (available: boolean) => void;
}

export interface VirtualizationInterface {
  readonly name: string;
  /** Connect, watch events, prepare networks. Must not throw when the backend is down: report unavailable instead. */
  start(): Promise<void>;
  /** Create, start, wait for sshd, provision credentials. On any failure nothing is left behind. Throws ProtocolError('Unavailable', …) for capacity/backend problems. */
  create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox>;
  /** Remove the sandbox and free its port; idempotent. Refuses (ForeignContainerError) a container this server does not own. */
  destroy(id: string): Promise<void>;
  /** Sandboxes owned by this server (by label). */
  list(): Promise<Sandbox[]>;
  isAvailable(): boolean;
  /** Sandboxes the backend itself can still place (a swarm's `max_per_node` over its ready nodes); undefined or absent: no limit of its own. */
  freeSlots?(): number | undefined;
  /** Run a command inside a sandbox (as root unless `user` is given); `detach` returns at once with exitCode 0. */
  exec(id: string, cmd: string[], options?: { user?: string; env?: Record<string, string>; detach?: boolean; timeoutMs?: number }): Promise<ExecResult>;
  /** Authenticated SSH sessions open in a sandbox right now (idle detection). */
  countSshSessions(id: string): Promise<number>;
  /** Copy files into a directory of a sandbox (created if missing). */
  putFiles(id: string, directory: string, files: SandboxFile[]): Promise<void>;
  /** Address sandboxes reach the host at (bridge gateway), once started; undefined when unknown. */
  gatewayAddress(): string | undefined;
  /** The sandbox network once started (bridge interface, subnet, gateway); undefined before. */
  networkInfo(): SandboxNetworkInfo | undefined;
  on<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this;
  off<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this;
  /** Stop watching; does not destroy sandboxes. start() may follow (a restarted server). */
  close(): Promise<void>;
}
