// The options of the swarm backend (what src/daemon builds from the docker, swarm, container and network sections).
import type { Logger } from '../../shared/logger.js';
import type { WaitStrategy } from '../docker/ssh-wait-strategy.js';
import type { NodeEndpoint } from './node-engines.js';
import type { NodeFirewall } from './node-preparation.js';
import type { PublishMode } from './routing-mesh.js';
import type { SwarmNode } from './swarm-state.js';

export interface SwarmVirtualizationOptions {
  /** The manager's endpoint. */
  dockerHost?: string;
  image?: string;
  serverId: string;
  /** Ports sandboxes are published on (on their node, or on every node through the routing mesh). */
  nodePortRange?: [number, number];
  /** `host` (default): on the node that runs the sandbox; `ingress`: on every node (the routing mesh; the daemon runs on a node). */
  publish?: PublishMode;
  /** Whether this host has IPVS, which `ingress` needs (default: asks the kernel). */
  ipvsAvailable?: () => boolean;
  memoryMiB?: number;
  vcpus?: number;
  pidsLimit?: number;
  nofileLimit?: number;
  nprocLimit?: number;
  readyTimeoutSeconds?: number;
  clientSudo?: boolean;
  /** `container.disk_limit` (MiB): a btrfs qgroup limit set on each sandbox through its node's `btrfsOf` command; null: none. */
  diskLimitMiB?: number | null;
  /** `swarm.nodes.<node>.btrfs`; null for a node means it cannot have a disk limit and gets no sandboxes while one is set. */
  btrfsOf?: (node: SwarmNode) => readonly string[] | null;
  /** `swarm.registry`: services name the image by its digest reference there (build-image pushed it); null: by `image` as is. */
  registry?: string | null;
  /** Swarm-scoped bridge (default `<serverId>-sandboxes`). */
  networkName?: string;
  constraints?: readonly string[];
  spread?: readonly string[];
  maxPerNode?: number | null;
  /** Each node's engine, keyed by node hostname or id; the manager's own node is reached through dockerHost. */
  nodes?: Readonly<Record<string, NodeEndpoint>>;
  /**
   * Egress rules per node (absent: egress open); null for a node means it cannot have them and gets no sandboxes.
   * `swarmAddresses` lists every node's address now: sandboxes are closed out of all of them, not only their own node.
   */
  firewallOf?: (node: SwarmNode, swarmAddresses: () => string[]) => NodeFirewall | null;
  /** Remove every node's rules at close (sandboxes do not outlive the daemon). */
  removeRulesOnClose?: boolean;
  logger?: Logger;
  waitStrategy?: WaitStrategy;
  /** Period of the swarm refresh (default 1000 ms). */
  pollIntervalMs?: number;
  maxReconnectDelayMs?: number;
}
