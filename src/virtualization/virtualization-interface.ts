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

export interface Sandbox {
  /** Backend id (Docker container id). */
  id: string;
  uuid: string;
  /** Host port forwarding to the sandbox's sshd. */
  port: number;
  /** 64 lowercase hex: identity of the image the sandbox runs (`container_iso_sha256`). */
  imageSha256: string;
  labels: Record<string, string>;
}

export type SandboxEndReason = 'stopped' | 'died' | 'removed' | 'oom';

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
  /** Remove the sandbox and free its port; idempotent. */
  destroy(id: string): Promise<void>;
  /** Sandboxes owned by this server (by label). */
  list(): Promise<Sandbox[]>;
  isAvailable(): boolean;
  on<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this;
  off<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this;
  /** Stop watching; does not destroy sandboxes. */
  close(): Promise<void>;
}
