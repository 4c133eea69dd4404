// The forwarders of client sandboxes, one per sandbox: opened at CREATE (a cold sandbox or a claimed pool one), stopped on every way it ends.
import { BackendUnavailableError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { Sandbox, SshEndpoint } from '../../virtualization/virtualization-interface.js';
import type { DestroyReason, ForwarderPayload, Refusal, ServerEvents } from '../server-events.js';
import type { ClientInfo } from '../types.js';
import { TcpForwarder } from './tcp-forwarder.js';

/** `auto`: forward only the sandboxes whose port is not on this host (swarm); `forwarder`: forward every sandbox. */
export type PortForwardingMode = 'auto' | 'forwarder';

/** Ports of `port_forwarding.port_range` (the Docker backend's PortPool fits). */
export interface PortAllocator {
  acquire(): Promise<number | undefined>;
  release(port: number): void;
  /** Marks a port as taken (a forwarder restored on the port its session already has). */
  hold(port: number): void;
}

export interface SandboxForwardersOptions {
  mode: PortForwardingMode;
  /** `container.published_address`: where clients connect. */
  listenAddress: string;
  /** Absent: no forwarding possible; a sandbox that needs it makes CREATE answer `Unavailable`. */
  ports?: PortAllocator;
  /** Connections one forwarder pipes at once. */
  maxConnections: number;
  /** Of those, from one source (IPv4 address, IPv6 /64) at most; undefined: no cap per source. */
  maxConnectionsPerSource?: number;
  events: ServerEvents;
  logger: Logger;
}

/** A port someone else bound between our probe and our listen: try another. */
const LISTEN_ATTEMPTS = 3;

interface ActiveForwarder {
  forwarder: TcpForwarder;
  payload: ForwarderPayload;
}

export type Exposure = { port: number; refusal?: undefined } | { refusal: Refusal; port?: undefined };

export class SandboxForwarders {
  private readonly active = new Map<string, ActiveForwarder>();

  constructor(private readonly options: SandboxForwardersOptions) {
    if (!Number.isInteger(options.maxConnections) || options.maxConnections < 1) throw new RangeError('maxConnections must be an integer ≥ 1');
  }

  /** Whether clients reach this sandbox through a forwarder of ours: its port is on another host (a swarm node), or the mode says so. */
  needsForwarder(sandbox: Sandbox): boolean {
    return this.options.mode === 'forwarder' || sandbox.host !== undefined;
  }

  /** Forwarders listening now. */
  count(): number {
    return this.active.size;
  }

  /** The port clients reach a sandbox on, by container id, while its forwarder runs. */
  portOf(containerId: string): number | undefined {
    return this.active.get(containerId)?.forwarder.port;
  }

  /**
   * The port clients are told for this sandbox: its own when it needs no forwarder; otherwise a forwarder's, after
   * `forwarder_created` and `forwarder_started` (either may veto: nothing stays open then). `port` restores a
   * forwarder on the port a session already has.
   */
  async expose(sandbox: Sandbox, client: ClientInfo | null, port?: number): Promise<Exposure> {
    if (!this.needsForwarder(sandbox)) return { port: sandbox.port };
    const { ports, events } = this.options;
    if (ports === undefined) throw new BackendUnavailableError('this sandbox needs a port forwarder and port forwarding is not configured');
    const target = targetOf(sandbox);
    if (target === undefined) throw new BackendUnavailableError('the backend gave no SSH endpoint to forward to');
    if (this.active.has(sandbox.id)) throw new Error(`sandbox ${sandbox.id.slice(0, 12)} already has a forwarder`);
    const forwarder = await this.listen(sandbox, port);
    const payload: ForwarderPayload = {
      client,
      container_id: sandbox.id,
      container_uuid: sandbox.uuid === '' ? null : sandbox.uuid,
      server_origin_port: forwarder.port,
      container_ip: target.host,
      container_destination_port: target.port,
    };
    // Anweddol's order: created (a handler may still refuse), then started. Here the port is bound at "created" so that it is known.
    let refusal = (await events.emit('forwarder_created', payload)).refusal;
    if (refusal !== undefined) {
      await forwarder.stop();
      ports.release(forwarder.port);
      return { refusal };
    }
    this.active.set(sandbox.id, { forwarder, payload });
    this.options.logger.info(`sandbox ${sandbox.id.slice(0, 12)}: forwarding ${this.options.listenAddress}:${forwarder.port} to ${target.host}:${target.port}`);
    refusal = (await events.emit('forwarder_started', payload)).refusal;
    if (refusal !== undefined) {
      await this.stop(sandbox.id, 'vetoed');
      return { refusal };
    }
    return { port: forwarder.port };
  }

  /**
   * After a restart: the sandboxes that kept a session (`sessionPortOf` gives its port) get their forwarders back on the
   * ports their clients were told. A port that cannot be bound again is logged (the client can still DESTROY). Resolves to the
   * container ids a handler refused.
   */
  async restore(sandboxes: Sandbox[], sessionPortOf: (containerId: string) => number | undefined): Promise<string[]> {
    const refused: string[] = [];
    for (const sandbox of sandboxes) {
      const port = sessionPortOf(sandbox.id);
      if (port === undefined || !this.needsForwarder(sandbox) || this.active.has(sandbox.id)) continue;
      try {
        if ((await this.expose(sandbox, null, port)).refusal !== undefined) refused.push(sandbox.id);
      } catch (error) {
        this.options.logger.warn(`sandbox ${sandbox.id.slice(0, 12)}: forwarder not restored: ${(error as Error).message}`);
      }
    }
    return refused;
  }

  /** Stops a sandbox's forwarder (every connection through it is cut) and frees its port; `forwarder_stopped` says why. No-op without one. */
  async stop(containerId: string, reason: DestroyReason): Promise<void> {
    const active = this.active.get(containerId);
    if (active === undefined) return;
    this.active.delete(containerId);
    await active.forwarder.stop();
    this.options.ports?.release(active.forwarder.port);
    this.options.logger.info(`sandbox ${containerId.slice(0, 12)}: forwarder on port ${active.forwarder.port} stopped (${reason})`);
    await this.options.events.emit('forwarder_stopped', { ...active.payload, reason });
  }

  /** Server stop: every forwarder, whether or not its sandbox survives the stop. */
  async stopAll(reason: DestroyReason): Promise<void> {
    await Promise.all([...this.active.keys()].map((id) => this.stop(id, reason)));
  }

  private async listen(sandbox: Sandbox, restorePort: number | undefined): Promise<TcpForwarder> {
    const ports = this.options.ports!;
    for (let attempt = 1; ; attempt++) {
      let port = restorePort;
      if (port === undefined) port = await ports.acquire();
      else ports.hold(port);
      if (port === undefined) throw new BackendUnavailableError('no free port for the sandbox forwarder');
      const forwarder = new TcpForwarder({
        listenAddress: this.options.listenAddress,
        listenPort: port,
        target: targetOf(sandbox)!,
        maxConnections: this.options.maxConnections,
        ...(this.options.maxConnectionsPerSource === undefined ? {} : { maxConnectionsPerSource: this.options.maxConnectionsPerSource }),
        onConnectionError: (error) => this.options.logger.debug(`sandbox ${sandbox.id.slice(0, 12)}: forwarded connection failed: ${error.message}`),
      });
      try {
        await forwarder.start();
        return forwarder;
      } catch (error) {
        ports.release(port);
        const taken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!taken || restorePort !== undefined || attempt >= LISTEN_ATTEMPTS) {
          throw new BackendUnavailableError(`cannot listen on port ${port} for the sandbox forwarder: ${(error as Error).message}`, { cause: error });
        }
      }
    }
  }
}

/** What a forwarder pipes to: the port on the sandbox's node; on this host, its sshd straight (no docker-proxy in between). */
function targetOf(sandbox: Sandbox): SshEndpoint | undefined {
  return sandbox.host !== undefined ? { host: sandbox.host, port: sandbox.port } : sandbox.sshEndpoint;
}
