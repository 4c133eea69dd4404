// The TCP listener: accepts sockets under a connection cap and the IP filter, one Connection each.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Connection, type ConnectionHost } from './connection.js';
import type { Logger } from '../shared/logger.js';
import type { RefusalReason } from './server-observer.js';
import type { ClientInfo } from './types.js';

export interface TcpListenerOptions {
  bindAddress: string;
  port: number;
  maxConnections: number;
  logger: Logger;
  isAllowed(address: string): boolean;
  /** The ClientInfo of a peer (its keyed log id included). */
  identify(address: string | undefined, port: number | undefined): ClientInfo;
  /** The per-client connection cap: a release to call when the connection ends, or undefined to close it at once. */
  admit(client: ClientInfo): (() => void) | undefined;
  host: ConnectionHost;
  /** Called for each accepted socket that passed the cap and the filter. */
  onAccepted(): void;
  /** Called for each socket closed by a limit of the listener itself (the IP filter reports through `isAllowed`). */
  onRefused?(reason: RefusalReason): void;
}

export class TcpListener {
  private server: Server | undefined;
  private readonly live = new Map<Connection, Promise<void>>();
  private refusedOverCap = 0;

  constructor(private readonly options: TcpListenerOptions) {}

  get activeConnections(): number {
    return this.live.size;
  }

  get connectionsRefusedOverCap(): number {
    return this.refusedOverCap;
  }

  async start(): Promise<AddressInfo> {
    const server = createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.options.bindAddress, port: this.options.port, backlog: 1024 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.options.logger.error(`tcp listener error: ${error.message}`));
    return server.address() as AddressInfo;
  }

  address(): AddressInfo | undefined {
    const address = this.server?.address();
    return address !== null && typeof address === 'object' ? address : undefined;
  }

  /** Number of sockets the OS-level server still holds (for leak checks). */
  getConnections(): Promise<number> {
    const server = this.server;
    if (server === undefined) return Promise.resolve(0);
    return new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
  }

  /** Stops accepting, lets in-flight connections finish (they all have deadlines), then drops stragglers after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(this.live.values()), grace]);
    clearTimeout(timer);
    for (const connection of this.live.keys()) connection.abort();
    await Promise.all(this.live.values());
    await closed;
    this.server = undefined;
  }

  private accept(socket: Socket): void {
    const { logger, maxConnections } = this.options;
    socket.on('error', () => {}); // errors before a Connection takes over must not crash the process
    const client = this.options.identify(socket.remoteAddress, socket.remotePort);
    if (this.live.size >= maxConnections) {
      this.refusedOverCap++;
      this.options.onRefused?.('connection_cap');
      socket.destroy();
      // One line per burst would be nicer; a line per socket is honest and cheap at debug level.
      logger.debug(`client ${client.id}: connection cap ${maxConnections} reached, closed`);
      return;
    }
    if (!this.options.isAllowed(client.address)) {
      socket.destroy();
      logger.info(`client ${client.id}: refused by IP filter`);
      return;
    }
    const release = this.options.admit(client);
    if (release === undefined) {
      socket.destroy();
      return;
    }
    this.options.onAccepted();
    const connection = new Connection(socket, client, this.options.host);
    const done = connection.run().finally(() => {
      release();
      this.live.delete(connection);
    });
    this.live.set(connection, done);
  }
}
