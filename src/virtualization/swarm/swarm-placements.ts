// Where our sandboxes are on the swarm: node ports handed out, sandboxes per node, creations not placed yet, and what a new one may get.
import { PortPool } from '../docker/port-pool.js';
import { placementVerdict, type PlacementVerdict, type SwarmNode } from './swarm-state.js';

/** One sandbox of ours (ready, or still being set up); node and container are unknown while its task waits to be scheduled. */
export interface Placed {
  uuid: string;
  port: number;
  /** Node ports of the sandbox's other published ports (SandboxSpec.publishPorts). */
  extraPorts?: number[];
  nodeId?: string;
  containerId?: string;
}

export class SwarmPlacements {
  private readonly placed = new Map<string, Placed>();
  private readonly ports: PortPool;
  /** Creations whose node is not known yet. */
  private pending = 0;
  /** Woken when a pending creation is placed or given up (see roomFor). */
  private readonly settleWaiters = new Set<() => void>();

  constructor(
    portRange: [number, number],
    private readonly maxPerNode: number | null,
  ) {
    // Ports on other machines cannot be probed from here: a taken one fails the task, and create tries the next.
    this.ports = new PortPool(portRange[0], portRange[1], () => Promise.resolve(true));
  }

  get(serviceId: string): Placed | undefined {
    return this.placed.get(serviceId);
  }

  entries(): IterableIterator<[string, Placed]> {
    return this.placed.entries();
  }

  /** What a new sandbox may get, from the latest nodes; `unserved` nodes are not prepared for sandboxes. */
  verdict(nodes: readonly SwarmNode[], unserved: ReadonlySet<string>): PlacementVerdict {
    const perNode = new Map<string, number>();
    for (const { nodeId } of this.placed.values()) if (nodeId !== undefined) perNode.set(nodeId, (perNode.get(nodeId) ?? 0) + 1);
    return placementVerdict({ nodes, perNode, pending: this.pending, maxPerNode: this.maxPerNode, unserved });
  }

  /**
   * The verdict for one more sandbox. A pending creation counts against every node until its node is known, so a full
   * verdict with creations pending (a warm pool filling) is waited out, bounded by `signal`, rather than refused.
   */
  async roomFor(verdict: () => PlacementVerdict, signal: AbortSignal): Promise<PlacementVerdict> {
    for (;;) {
      const current = verdict();
      if (current.eligible.length > 0 || this.pending === 0 || signal.aborted) return current;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.settleWaiters.delete(wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.settleWaiters.add(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  /** A creation starts: it holds its SSH port and `extra` more, and counts as pending until `place` (or `abandon`). */
  async begin(extra = 0): Promise<{ port: number; extraPorts: number[] } | undefined> {
    const taken: number[] = [];
    for (let i = 0; i <= extra; i++) {
      const port = await this.ports.acquire();
      if (port === undefined) {
        for (const p of taken) this.ports.release(p);
        return undefined;
      }
      taken.push(port);
    }
    this.pending++;
    return { port: taken[0]!, extraPorts: taken.slice(1) };
  }

  place(serviceId: string, placed: Placed): void {
    this.pending--;
    this.placed.set(serviceId, placed);
    this.settled();
  }

  /** The creation failed: not pending any more (if it was never placed), and its port is free again. */
  abandon(ports: readonly number[], wasPlaced: boolean): void {
    if (!wasPlaced) this.pending--;
    for (const port of ports) this.ports.release(port);
    this.settled();
  }

  /** A sandbox found running (a reconnection): its port stays held and it counts on its node. */
  hold(serviceId: string, placed: Placed): void {
    for (const port of [placed.port, ...(placed.extraPorts ?? [])]) this.ports.hold(port);
    this.placed.set(serviceId, placed);
  }

  /** Before a fresh count: every placement but those of `keep` (creations in flight) goes, its port with it. */
  clear(keep: ReadonlySet<string>): void {
    for (const id of [...this.placed.keys()]) if (!keep.has(id)) this.forget(id);
  }

  private settled(): void {
    for (const wake of [...this.settleWaiters]) wake();
  }

  forget(serviceId: string): void {
    const placed = this.placed.get(serviceId);
    for (const port of placed === undefined ? [] : [placed.port, ...(placed.extraPorts ?? [])]) this.ports.release(port);
    this.placed.delete(serviceId);
  }
}
