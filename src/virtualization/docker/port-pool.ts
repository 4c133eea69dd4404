// Hands out host ports for sandboxes' SSH forwarding from a fixed range, skipping ports we hold or that are in use.
import { createServer } from 'node:net';

export type PortProbe = (port: number) => Promise<boolean>;

/** True when `port` can be bound on `address` right now (nothing else listens there). */
export function bindProbe(address: string): PortProbe {
  return (port) =>
    new Promise((resolve) => {
      const server = createServer();
      server.unref();
      server.once('error', () => resolve(false));
      server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
    });
}

export class PortPool {
  private readonly held = new Set<number>();
  private cursor: number;

  constructor(
    readonly first: number,
    readonly last: number,
    private readonly isFree: PortProbe,
  ) {
    if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last > 65535 || first > last) {
      throw new RangeError(`invalid port range [${first}, ${last}]`);
    }
    this.cursor = first;
  }

  get size(): number {
    return this.last - this.first + 1;
  }

  /** Ports handed out and not yet released. */
  get inUse(): number {
    return this.held.size;
  }

  /**
   * Reserves the next free port, round-robin from the last one handed out (a just-released port is
   * reused last), or undefined when every port of the range is held or in use.
   */
  async acquire(): Promise<number | undefined> {
    for (let tried = 0; tried < this.size; tried++) {
      const port = this.cursor;
      this.cursor = port === this.last ? this.first : port + 1;
      if (this.held.has(port)) continue;
      // Hold it before probing so a concurrent acquire() cannot pick the same port.
      this.held.add(port);
      if (await this.isFree(port)) return port;
      this.held.delete(port);
    }
    return undefined;
  }

  /** Marks a port as held (a sandbox found running at start-up). Ports outside the range are ignored. */
  hold(port: number): void {
    if (port >= this.first && port <= this.last) this.held.add(port);
  }

  release(port: number): void {
    this.held.delete(port);
  }

  isHeld(port: number): boolean {
    return this.held.has(port);
  }
}
