// What the swarm looks like to the backend (pure): nodes, where our sandboxes run, which nodes may take one more, and which sandboxes are gone.
import type { SandboxEndReason } from '../virtualization-interface.js';

export interface SwarmNode {
  id: string;
  hostname: string;
  /** Address the node advertises (its published ports answer there). */
  address: string;
  /** `ready` and availability `active`: the scheduler may place tasks there. */
  usable: boolean;
  /** Down, disconnected, or drained: its sandboxes are lost. */
  lost: boolean;
}

/** The latest task of one of our services. */
export interface SwarmTask {
  serviceId: string;
  nodeId: string | undefined;
  /** Docker's task state: new … running, complete, shutdown, failed, rejected, orphaned, remove. */
  state: string;
  /** What the orchestrator wants of it: `remove` once its service is removed. */
  desiredState?: string;
  containerId: string | undefined;
  error: string | undefined;
}

export const TERMINAL_TASK_STATES = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']);

/** From `GET /nodes`. */
export function nodeFromApi(raw: {
  ID: string;
  Description?: { Hostname?: string };
  Status?: { State?: string; Addr?: string };
  Spec?: { Availability?: string };
  ManagerStatus?: { Addr?: string };
}): SwarmNode {
  const state = raw.Status?.State ?? 'unknown';
  const availability = raw.Spec?.Availability ?? 'active';
  // A manager may report 0.0.0.0 in Status.Addr; its raft address names the host then.
  let address = raw.Status?.Addr ?? '';
  if (address === '' || address === '0.0.0.0') address = (raw.ManagerStatus?.Addr ?? '').replace(/:\d+$/, '');
  return {
    id: raw.ID,
    hostname: raw.Description?.Hostname ?? '',
    address,
    usable: state === 'ready' && availability === 'active',
    lost: state === 'down' || state === 'disconnected' || availability === 'drain',
  };
}

/** From `GET /tasks`: the most recent task per service (a service of ours has one replica, never restarted). */
export function latestTasks(raw: ReadonlyArray<{
  ServiceID?: string;
  NodeID?: string;
  CreatedAt?: string;
  DesiredState?: string;
  Status?: { State?: string; Err?: string; ContainerStatus?: { ContainerID?: string } };
}>): Map<string, SwarmTask> {
  const latest = new Map<string, { task: SwarmTask; createdAt: string }>();
  for (const t of raw) {
    if (t.ServiceID === undefined) continue;
    const createdAt = t.CreatedAt ?? '';
    const seen = latest.get(t.ServiceID);
    if (seen !== undefined && seen.createdAt >= createdAt) continue;
    latest.set(t.ServiceID, {
      createdAt,
      task: {
        serviceId: t.ServiceID,
        nodeId: t.NodeID || undefined,
        state: t.Status?.State ?? 'unknown',
        ...(t.DesiredState === undefined ? {} : { desiredState: t.DesiredState }),
        containerId: t.Status?.ContainerStatus?.ContainerID || undefined,
        error: t.Status?.Err || undefined,
      },
    });
  }
  return new Map([...latest].map(([id, { task }]) => [id, task]));
}

/** Why a sandbox we track is gone, or undefined while it runs: its node lost first, its service removed, then its task's own end. */
export function endReason(task: SwarmTask | undefined, node: SwarmNode | undefined): SandboxEndReason | undefined {
  if (task === undefined) return 'removed';
  if (node?.lost === true) return 'node_lost';
  // The service went while its task still stops: removed, whatever state the task passes through on its way out.
  if (task.desiredState === 'remove') return 'removed';
  if (!TERMINAL_TASK_STATES.has(task.state)) return undefined;
  return task.state === 'shutdown' || task.state === 'complete' ? 'stopped' : 'died';
}

/**
 * Why a service of ours found at (re)connection, and not being created now, must go, or undefined to keep it: ended, or
 * not running yet, which only a creation of an earlier run is (a killed daemon's pool fill or CREATE): nobody will claim it.
 */
export function leftoverReason(task: SwarmTask | undefined, node: SwarmNode | undefined): string | undefined {
  const ended = endReason(task, node);
  if (ended !== undefined || task?.state === 'running') return ended;
  return `${task?.state ?? 'no task'}: an earlier run's creation`;
}

export interface PlacementInput {
  nodes: readonly SwarmNode[];
  /** Sandboxes of ours per node id (running or starting there). */
  perNode: ReadonlyMap<string, number>;
  /** Creations whose node is not known yet: each may land on any node. */
  pending: number;
  maxPerNode: number | null;
  /** Nodes the backend cannot serve (no endpoint, egress rules not installed). */
  unserved: ReadonlySet<string>;
}

export interface PlacementVerdict {
  /** Nodes a new sandbox may go to. */
  eligible: SwarmNode[];
  /** Usable nodes it must not go to (full or unserved): the service's constraints exclude them. */
  excluded: SwarmNode[];
  /** Sandboxes that can still be placed; undefined: no per-node limit. */
  free: number | undefined;
}

/**
 * A pending creation may land anywhere, so a node is offered only while its sandboxes plus every pending one stay
 * under the limit: the limit holds however the scheduler places them.
 */
export function placementVerdict(input: PlacementInput): PlacementVerdict {
  const eligible: SwarmNode[] = [];
  const excluded: SwarmNode[] = [];
  let room = 0;
  for (const node of input.nodes) {
    if (!node.usable) continue;
    const count = input.perNode.get(node.id) ?? 0;
    const served = !input.unserved.has(node.id);
    const full = input.maxPerNode !== null && count + input.pending >= input.maxPerNode;
    if (served && !full) eligible.push(node);
    else excluded.push(node);
    if (served && input.maxPerNode !== null) room += Math.max(0, input.maxPerNode - count);
  }
  const free = input.maxPerNode === null ? (eligible.length > 0 ? undefined : 0) : Math.max(0, room - input.pending);
  return { eligible, excluded, free };
}
