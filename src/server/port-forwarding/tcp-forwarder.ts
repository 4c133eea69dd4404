// One sandbox's TCP forwarder: listens on a port of the server's own address and pipes each connection to the sandbox's sshd.
import { connect, createServer, type NetConnectOpts, type Server, type Socket } from 'node:net';
import { pipeline } from 'node:stream';
import { clientKeyOf } from '../client-limits/client-key.js';

export interface ForwarderTarget {
  host: string;
  port: number;
}

export interface TcpForwarderOptions {
  listenAddress: string;
  listenPort: number;
  target: ForwarderTarget;
  /** Connections piped at once; one more is closed on accept (strangers must not exhaust the daemon's descriptors). */
  maxConnections: number;
  /**
   * Connections one source (an IPv4 address, an IPv6 /64) may hold at once, so that a stranger who found the port cannot
   * take every slot from the sandbox's owner; undefined: only `maxConnections` applies.
   */
  maxConnectionsPerSource?: number;
  /** Bound on reaching the target; default 10 s. */
  connectTimeoutMs?: number;
  /** One connection failed (target refused, reset, timeout): told, never thrown; the forwarder goes on. */
  onConnectionError?: (error: Error) => void;
}

/**
 * Per socket and direction. Node's default (16 KiB) is below one socket read (64 KiB), so every read would pause the
 * pipe until the write drained: reads and writes would take turns instead of overlapping.
 */
const STREAM_BUFFER_BYTES = 256 * 1024;

/** A listener lifecycle written out: a stopped forwarder never listens again (the owner makes a new one). */
type ForwarderState = 'idle' | 'listening' | 'stopped';

export class TcpForwarder {
  private readonly server: Server;
  /** Both sockets of every piped connection, so stop() can end them all. */
  private readonly sockets = new Set<Socket>();
  private pairs = 0;
  /** Piped connections per source key (entries at 0 are deleted). */
  private readonly perSource = new Map<string, number>();
  private state: ForwarderState = 'idle';
  private refusedConnections = 0;

  constructor(private readonly options: TcpForwarderOptions) {
    if (!Number.isInteger(options.maxConnections) || options.maxConnections < 1) throw new RangeError('maxConnections must be an integer ≥ 1');
    const perSource = options.maxConnectionsPerSource;
    if (perSource !== undefined && (!Number.isInteger(perSource) || perSource < 1)) throw new RangeError('maxConnectionsPerSource must be an integer ≥ 1');
    // Half-open on both sides: a client that shuts down its sending side still gets the rest of the answer (scp, `ssh host cmd < file`).
    this.server = createServer({ allowHalfOpen: true, noDelay: true, highWaterMark: STREAM_BUFFER_BYTES }, (socket) => this.accept(socket));
  }

  /** Connections piped right now. */
  get connections(): number {
    return this.pairs;
  }

  /** Connections closed on accept because the forwarder, or their source, was at its cap. */
  get refused(): number {
    return this.refusedConnections;
  }

  get port(): number {
    return this.options.listenPort;
  }

  get target(): ForwarderTarget {
    return this.options.target;
  }

  /** Listens; rejects (EADDRINUSE …) without leaving anything open. */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`cannot start a forwarder that is ${this.state}`);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => {
        this.state = 'stopped';
        reject(error);
      };
      this.server.once('error', onError);
      this.server.listen({ host: this.options.listenAddress, port: this.options.listenPort, exclusive: true }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.state = 'listening';
    // After listen, an error on the listener itself (rare: EMFILE on accept) must not take the daemon down.
    this.server.on('error', (error) => this.options.onConnectionError?.(error));
  }

  /** Stops listening and cuts every piped connection; resolves once the port is free. Idempotent. */
  async stop(): Promise<void> {
    const wasListening = this.state === 'listening';
    this.state = 'stopped';
    if (!wasListening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private accept(client: Socket): void {
    const source = clientKeyOf(client.remoteAddress ?? '', 64);
    const fromSource = this.perSource.get(source) ?? 0;
    const perSourceCap = this.options.maxConnectionsPerSource ?? Infinity;
    if (this.state !== 'listening' || this.pairs >= this.options.maxConnections || fromSource >= perSourceCap) {
      this.refusedConnections++;
      // A reset, not a FIN: the peer learns at once that nothing will be served.
      client.resetAndDestroy();
      return;
    }
    this.pairs++;
    this.perSource.set(source, fromSource + 1);
    // Node passes highWaterMark on to the socket's streams; its connect() typings do not list it.
    const upstreamOptions: NetConnectOpts & { highWaterMark: number } = {
      host: this.options.target.host,
      port: this.options.target.port,
      allowHalfOpen: true,
      noDelay: true,
      highWaterMark: STREAM_BUFFER_BYTES,
    };
    const upstream = connect(upstreamOptions);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const connectTimer = setTimeout(() => upstream.destroy(new Error(`no answer from ${this.options.target.host}:${this.options.target.port}`)), this.options.connectTimeoutMs ?? 10_000);
    upstream.once('connect', () => clearTimeout(connectTimer));
    let pending = 2;
    let reported = false;
    // Each direction is its own pipeline: backpressure per direction, and an end in one direction is a half-close, not a teardown.
    const done = (error: Error | null | undefined) => {
      if (error && !reported) {
        reported = true;
        this.options.onConnectionError?.(error);
      }
      // An error in one direction ends both; a clean end waits for the other direction.
      if (error || --pending === 0) {
        pending = 0;
        client.destroy();
        upstream.destroy();
      }
    };
    pipeline(client, upstream, done);
    pipeline(upstream, client, done);
    client.once('close', () => this.release(client, upstream, connectTimer, source));
  }

  private release(client: Socket, upstream: Socket, connectTimer: NodeJS.Timeout, source: string): void {
    clearTimeout(connectTimer);
    upstream.destroy();
    this.sockets.delete(client);
    this.sockets.delete(upstream);
    this.pairs--;
    const left = (this.perSource.get(source) ?? 1) - 1;
    if (left === 0) this.perSource.delete(source);
    else this.perSource.set(source, left);
  }
}
