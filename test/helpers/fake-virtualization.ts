// An in-memory VirtualizationInterface for fast unit tests: records calls, can be slowed, failed or made unavailable.
import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type {
  ExecResult,
  Sandbox,
  SandboxEndReason,
  SandboxFile,
  SandboxNetworkInfo,
  SandboxSpec,
  VirtualizationEvents,
  VirtualizationInterface,
} from '../../src/virtualization/virtualization-interface.js';
import { unavailable } from '../../src/server/errors.js';

export const FAKE_IMAGE_SHA256 = createHash('sha256').update('fake image').digest('hex');

export interface FakeVirtualizationOptions {
  /** Delay of each create, in ms (lets tests overlap creations). */
  createDelayMs?: number;
  /** Like Docker: the sandbox is listed from the start of a create, before it is ready. */
  listedWhileCreating?: boolean;
  firstPort?: number;
}

export class FakeVirtualization implements VirtualizationInterface {
  readonly name = 'fake';
  readonly sandboxes = new Map<string, Sandbox>();
  readonly specs = new Map<string, SandboxSpec>();
  readonly destroyed: string[] = [];
  startCalls = 0;
  closeCalls = 0;
  available = true;
  /** Next create rejects with this error (once). */
  failNextCreate: Error | undefined;
  /** Next destroy rejects with this error (once). */
  failNextDestroy: Error | undefined;
  private readonly emitter = new EventEmitter();
  private nextPort: number;

  constructor(private readonly options: FakeVirtualizationOptions = {}) {
    this.nextPort = options.firstPort ?? 10000;
  }

  async start(): Promise<void> {
    this.startCalls++;
  }

  async create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    if (!this.available) throw unavailable('backend down');
    const sandbox: Sandbox = { id: randomUUID().replaceAll('-', ''), uuid: spec.uuid, port: this.nextPort++, imageSha256: FAKE_IMAGE_SHA256, labels: { ...spec.labels } };
    if (this.options.listedWhileCreating) this.sandboxes.set(sandbox.id, sandbox);
    if (this.options.createDelayMs) await abortableDelay(this.options.createDelayMs, signal);
    if (signal?.aborted) {
      // Like the Docker backend: an aborted creation removes what it had made.
      this.sandboxes.delete(sandbox.id);
      signal.throwIfAborted();
    }
    const failure = this.failNextCreate;
    this.failNextCreate = undefined;
    if (failure !== undefined) {
      this.sandboxes.delete(sandbox.id);
      throw failure;
    }
    if (!this.sandboxes.has(sandbox.id) && this.options.listedWhileCreating) throw unavailable('sandbox removed while starting');
    this.sandboxes.set(sandbox.id, sandbox);
    this.specs.set(sandbox.id, spec);
    return sandbox;
  }

  async destroy(id: string): Promise<void> {
    const failure = this.failNextDestroy;
    this.failNextDestroy = undefined;
    if (failure !== undefined) throw failure;
    if (this.sandboxes.delete(id)) this.destroyed.push(id);
  }

  async list(): Promise<Sandbox[]> {
    return [...this.sandboxes.values()];
  }

  isAvailable(): boolean {
    return this.available;
  }

  async exec(id: string, cmd: string[]): Promise<ExecResult> {
    if (!this.sandboxes.has(id)) throw new Error(`no sandbox ${id}`);
    return { exitCode: 0, stdout: cmd.join(' '), stderr: '' };
  }

  /** SSH sessions `countSshSessions` reports, by sandbox id (default 0). */
  readonly sshSessions = new Map<string, number>();

  async countSshSessions(id: string): Promise<number> {
    if (!this.sandboxes.has(id)) throw new Error(`no sandbox ${id}`);
    return this.sshSessions.get(id) ?? 0;
  }

  async putFiles(id: string, _directory: string, _files: SandboxFile[]): Promise<void> {
    if (!this.sandboxes.has(id)) throw new Error(`no sandbox ${id}`);
  }

  gatewayAddress(): string | undefined {
    return '127.0.0.1';
  }

  networkInfo(): SandboxNetworkInfo | undefined {
    return { name: 'fake', bridge: 'lo', subnet: '127.0.0.0/8', gateway: '127.0.0.1', ipv6: false };
  }

  /** Adds a sandbox as if it existed before the server started (reconciliation tests). */
  adopt(sandbox: Omit<Sandbox, 'imageSha256' | 'labels'>): Sandbox {
    const full: Sandbox = { ...sandbox, imageSha256: FAKE_IMAGE_SHA256, labels: {} };
    this.sandboxes.set(full.id, full);
    return full;
  }

  /** Simulates the backend going away or coming back. */
  setAvailable(available: boolean): void {
    this.available = available;
    this.emitter.emit('availability_changed', available);
  }

  /** Simulates a sandbox ending behind the server's back. */
  end(id: string, reason: SandboxEndReason = 'died'): void {
    const sandbox = this.sandboxes.get(id);
    this.sandboxes.delete(id);
    this.emitter.emit('sandbox_ended', { id, uuid: sandbox?.uuid, reason });
  }

  on<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this {
    this.emitter.on(event, listener);
    return this;
  }

  off<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this {
    this.emitter.off(event, listener);
    return this;
  }

  async close(): Promise<void> {
    this.closeCalls++;
  }
}

/** A create's work: cut short by an abort, as the Docker backend's steps are. */
function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
