// The connection to dockerd: reachability, the stream of our containers' events, reconnection with backoff.
import Docker from 'dockerode';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Logger } from '../../shared/logger.js';
import { BackendConfigurationError } from '../virtualization-errors.js';
import { SERVER_LABEL, UUID_LABEL } from './container-spec.js';

type State = 'stopped' | 'connecting' | 'available' | 'unavailable' | 'closed';

/** One event about a container of ours, as the events stream reported it. */
export interface ContainerEvent {
  id: string;
  action: string;
  uuid?: string;
}

interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  time?: number;
  timeNano?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

export interface DockerEngineOptions {
  dockerHost?: string;
  serverId: string;
  logger: Logger;
  /** Ceiling of the reconnection backoff. */
  maxReconnectDelayMs: number;
  /** Runs on every (re)connection before events are watched: networks, reconciliation, capability checks. */
  prepare: () => Promise<void>;
}

export interface DockerEngineEvents {
  container_event: (event: ContainerEvent) => void;
  availability_changed: (available: boolean) => void;
}

export function dockerFromHost(host: string | undefined): Docker {
  if (host === undefined || host === '') return new Docker();
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  if (host.startsWith('tcp://') || host.startsWith('http://')) {
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
  }
  if (host.startsWith('/')) return new Docker({ socketPath: host });
  throw new RangeError(`unsupported docker host ${JSON.stringify(host)} (use unix:///… or tcp://host:port)`);
}

export function statusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** Errors that mean dockerd itself is gone (not that one request was refused). */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code);
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const json = (error as { json?: { message?: string } }).json;
    return json?.message ?? error.message;
  }
  return String(error);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class DockerEngine extends EventEmitter {
  readonly docker: Docker;
  private state: State = 'stopped';
  private events: Readable | undefined;
  private lastEventTimeNano: bigint | undefined;
  private reconnecting: Promise<void> | undefined;
  /** Last configuration error logged by the reconnection loop (logged once, not at every attempt). */
  private lastConfigurationError: string | undefined;
  /** Aborted by close(); a fresh one per start, so a closed engine can be started again (server restart). */
  private closing = new AbortController();

  constructor(private readonly options: DockerEngineOptions) {
    super();
    this.docker = dockerFromHost(options.dockerHost);
  }

  override on<E extends keyof DockerEngineEvents>(event: E, listener: DockerEngineEvents[E]): this {
    return super.on(event, listener);
  }

  isAvailable(): boolean {
    return this.state === 'available';
  }

  /** Connects; an unreachable engine is not an error (reported unavailable, retried), a misconfigured one is (thrown). */
  async start(): Promise<void> {
    if (this.state === 'closed') {
      this.closing = new AbortController();
      this.state = 'stopped';
    }
    if (this.state !== 'stopped') return;
    this.state = 'connecting';
    try {
      await this.connect();
      this.setAvailable(true);
    } catch (error) {
      if (error instanceof BackendConfigurationError) {
        this.state = 'stopped';
        throw error;
      }
      this.options.logger.warn(`docker backend unavailable at start: ${describe(error)}`);
      this.setAvailable(false);
      this.scheduleReconnect();
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closing.abort();
    this.events?.destroy();
    this.events = undefined;
    await this.reconnecting?.catch(() => {});
  }

  /** A request failed because dockerd is gone: report unavailable and reconnect in the background. */
  connectionLost(error: unknown): void {
    if (this.state === 'closed' || this.state === 'unavailable') return;
    this.options.logger.warn(`docker backend lost: ${describe(error)}`);
    this.events?.destroy();
    this.events = undefined;
    this.setAvailable(false);
    this.scheduleReconnect();
  }

  /** Reaches dockerd, lets the owner prepare (network, reconciliation), then watches events. */
  private async connect(): Promise<void> {
    // Bounded: a hung dockerd must not stall start() or the reconnection loop.
    const ping = this.docker.ping as unknown as (options: { abortSignal: AbortSignal }) => Promise<unknown>;
    await ping.call(this.docker, { abortSignal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(10_000)]) });
    await this.options.prepare();
    await this.watchEvents();
  }

  private async watchEvents(): Promise<void> {
    const filters = {
      type: ['container'],
      label: [`${SERVER_LABEL}=${this.options.serverId}`],
      event: ['die', 'stop', 'destroy', 'oom'],
    };
    const since = this.lastEventTimeNano === undefined ? undefined : (Number(this.lastEventTimeNano / 1_000_000_000n)).toString();
    const stream = (await this.docker.getEvents({
      filters: JSON.stringify(filters),
      ...(since === undefined ? {} : { since }),
      abortSignal: this.closing.signal,
    } as Docker.GetEventsOptions)) as unknown as Readable;
    this.events = stream;
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line !== '') this.onEventLine(line);
      }
    });
    const lost = (error?: unknown) => {
      if (this.events !== stream) return;
      this.events = undefined;
      this.connectionLost(error ?? new Error('docker events stream ended'));
    };
    stream.once('error', lost);
    stream.once('end', () => lost());
    stream.once('close', () => lost());
  }

  private onEventLine(line: string): void {
    let event: DockerEvent;
    try {
      event = JSON.parse(line) as DockerEvent;
    } catch {
      this.options.logger.warn('unparsable docker event ignored');
      return;
    }
    if (event.timeNano !== undefined) {
      const time = BigInt(event.timeNano);
      // After a reconnection the stream replays from `since` (whole seconds): skip what we already saw.
      if (this.lastEventTimeNano !== undefined && time <= this.lastEventTimeNano) return;
      this.lastEventTimeNano = time;
    }
    const id = event.Actor?.ID ?? event.id;
    const action = event.Action ?? event.status;
    if (id === undefined || action === undefined) return;
    if (event.Actor?.Attributes?.[SERVER_LABEL] !== this.options.serverId) return;
    const uuid = event.Actor?.Attributes?.[UUID_LABEL];
    this.emit('container_event', { id, action, ...(uuid === undefined ? {} : { uuid }) } satisfies ContainerEvent);
  }

  private scheduleReconnect(): void {
    if (this.reconnecting !== undefined || this.state === 'closed') return;
    this.reconnecting = (async () => {
      let delay = 250;
      while (this.state !== 'closed') {
        await sleep(delay, this.closing.signal);
        if ((this.state as State) === 'closed') break;
        try {
          await this.connect();
          if ((this.state as State) === 'closed') {
            this.events?.destroy();
            break;
          }
          this.options.logger.info('docker backend reachable again');
          this.lastConfigurationError = undefined;
          this.setAvailable(true);
          break;
        } catch (error) {
          this.logReconnectFailure(error);
          delay = Math.min(delay * 2, this.options.maxReconnectDelayMs);
        }
      }
    })().finally(() => {
      this.reconnecting = undefined;
    });
  }

  /** An engine that came back misconfigured stays unavailable: say why once, at error level; plain outages stay at debug. */
  private logReconnectFailure(error: unknown): void {
    if (!(error instanceof BackendConfigurationError)) {
      this.options.logger.debug(`docker reconnect failed: ${describe(error)}`);
      return;
    }
    if (error.message === this.lastConfigurationError) return;
    this.lastConfigurationError = error.message;
    this.options.logger.error(`docker backend reachable but unusable: ${error.message}`);
  }

  private setAvailable(available: boolean): void {
    if (this.state === 'closed') return;
    const was = this.state === 'available';
    this.state = available ? 'available' : 'unavailable';
    if (was !== available) this.emit('availability_changed', available);
  }
}
