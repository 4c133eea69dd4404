// The backend's view of the swarm, refreshed on a short period: nodes and our tasks, from which placement and ended sandboxes follow.
import type Docker from 'dockerode';
import type { Logger } from '../../shared/logger.js';
import { describe, isConnectionError } from '../docker/docker-engine.js';
import { PORT_LABEL, UUID_LABEL } from '../docker/container-spec.js';
import type { Sandbox } from '../virtualization-interface.js';
import { latestTasks, nodeFromApi, type SwarmNode, type SwarmTask } from './swarm-state.js';
import { LOCAL_MESH_ADDRESS, type PublishMode } from './routing-mesh.js';

export interface SwarmSnapshot {
  nodes: Map<string, SwarmNode>;
  tasks: Map<string, SwarmTask>;
}

export interface SwarmWatchOptions {
  manager: Docker;
  /** Period of the refresh; node loss is seen within this plus the manager's own detection (≈ 3 dispatcher heartbeats). */
  intervalMs: number;
  logger: Logger;
  /** After every refresh (ended sandboxes, new nodes to prepare). */
  onRefresh: (snapshot: SwarmSnapshot) => Promise<void>;
  /** The manager is gone: the owner reports unavailable and reconnects. */
  onConnectionLost: (error: unknown) => void;
}

/** Task events are not in Docker 20.10's event stream: the list of nodes and tasks is read instead (two requests per period). */
export async function readSnapshot(manager: Docker): Promise<SwarmSnapshot> {
  const [nodes, tasks] = await Promise.all([manager.listNodes(), manager.listTasks()]);
  return {
    nodes: new Map((nodes as Parameters<typeof nodeFromApi>[0][]).map((raw) => nodeFromApi(raw)).map((n) => [n.id, n])),
    tasks: latestTasks(tasks as Parameters<typeof latestTasks>[0]),
  };
}

/**
 * Our services whose task runs on a live node, as sandboxes (reconciliation's view). Published through the routing
 * mesh (`ingress`), a sandbox's port answers on this host too: no `host`, reached at `localAddress`.
 */
export function runningSandboxes(services: readonly Docker.Service[], snapshot: SwarmSnapshot, publishMode: PublishMode = 'host', localAddress = LOCAL_MESH_ADDRESS): Sandbox[] {
  const sandboxes: Sandbox[] = [];
  for (const service of services) {
    const task = snapshot.tasks.get(service.ID);
    if (task?.state !== 'running' || task.nodeId === undefined) continue;
    const node = snapshot.nodes.get(task.nodeId);
    if (node === undefined || node.lost) continue;
    const labels = service.Spec?.Labels ?? {};
    const image = (service.Spec?.TaskTemplate as { ContainerSpec?: { Image?: string } } | undefined)?.ContainerSpec?.Image ?? '';
    const port = Number(labels[PORT_LABEL] ?? 0);
    sandboxes.push({
      id: service.ID,
      uuid: labels[UUID_LABEL] ?? '',
      port,
      ...(publishMode === 'ingress' ? { sshEndpoint: { host: localAddress, port } } : { host: node.address }),
      // The digest the service pins, or '' for a tag: the image id of an engine is not known without asking the node.
      imageSha256: /@sha256:([0-9a-f]{64})$/.exec(image)?.[1] ?? '',
      labels,
    });
  }
  return sandboxes;
}

export class SwarmWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastError: string | undefined;
  snapshot: SwarmSnapshot = { nodes: new Map(), tasks: new Map() };

  constructor(private readonly options: SwarmWatchOptions) {}

  /** Reads the swarm now (also what prepare and create use for a fresh view). */
  async refresh(): Promise<SwarmSnapshot> {
    this.snapshot = await readSnapshot(this.options.manager);
    return this.snapshot;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private tick(): void {
    // One refresh at a time: a slow manager must not pile requests up.
    if (this.running !== undefined) return;
    this.running = (async () => {
      try {
        await this.options.onRefresh(await this.refresh());
        this.lastError = undefined;
      } catch (error) {
        if (isConnectionError(error)) {
          this.options.onConnectionLost(error);
          return;
        }
        if (describe(error) !== this.lastError) this.options.logger.warn(`swarm refresh failed: ${describe(error)}`);
        this.lastError = describe(error);
      }
    })().finally(() => {
      this.running = undefined;
    });
  }
}
