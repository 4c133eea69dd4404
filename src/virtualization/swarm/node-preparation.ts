// What a swarm node needs before the scheduler may give it a sandbox: the sandbox image, the network settings, what the sandbox hardening checks (btrfs quotas), and (once its bridge exists) the egress rules.
import type Docker from 'dockerode';
import type { Logger } from '../../shared/logger.js';
import { SERVER_LABEL } from '../docker/container-spec.js';
import { describe, statusCode } from '../docker/docker-engine.js';
import type { SandboxNetworkInfo } from '../virtualization-interface.js';
import { ensureNodeNetworkConfig, nodeSandboxNetwork } from './swarm-network.js';
import type { SwarmNode } from './swarm-state.js';

/** The egress rules of one node (an EgressFirewall whose iptables runs there). */
export interface NodeFirewall {
  install(network: SandboxNetworkInfo): Promise<void>;
  remove(): Promise<void>;
}

/** A reference that names a registry host (`registry:5000/…`, `host.example/…`, `localhost/…`) can be pulled without Docker Hub. */
export function namesRegistry(image: string): boolean {
  const first = image.split('/')[0] ?? '';
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
}

/** Pulls the image onto the node when it is missing there; an image without a registry host must be loaded by the operator. */
export async function ensureNodeImage(docker: Docker, image: string): Promise<void> {
  const present = await docker.getImage(image).inspect().then(
    () => true,
    (error: unknown) => (statusCode(error) === 404 ? false : Promise.reject(error)),
  );
  if (present) return;
  if (!namesRegistry(image)) throw new Error(`the image ${image} is not on the node and names no registry to pull it from`);
  const stream = await docker.pull(image);
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve())));
}

/** Our task containers that are not running (a node that crashed and came back): they still reserve their node ports. */
async function removeEndedContainers(docker: Docker, serverId: string, logger: Logger): Promise<void> {
  const ours = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${SERVER_LABEL}=${serverId}`] }) });
  for (const c of ours) {
    if (c.State === 'running') continue;
    logger.info(`removing ended sandbox container ${c.Id.slice(0, 12)} (${c.State})`);
    await docker.getContainer(c.Id).remove({ force: true }).catch((error: unknown) => logger.warn(`cannot remove ${c.Id.slice(0, 12)}: ${describe(error)}`));
  }
}

export interface NodePreparationOptions {
  /** The reference services run (resolved at each connection: a registry digest reference). */
  image: () => string;
  networkName: string;
  serverId: string;
  logger: Logger;
  /** The node's firewall, or undefined when egress is open; `null`: egress is filtered but this node cannot have the rules. */
  firewallOf?: (node: SwarmNode) => NodeFirewall | null;
  /** Throws why the node cannot protect sandboxes as configured (e.g. no btrfs quotas for container.disk_limit). */
  checkNode?: (node: SwarmNode, docker: Docker) => Promise<void>;
}

/** Per node: prepared (image + network config) once per connection, rules installed once its bridge exists; a node that failed is retried later. */
export class NodePreparation {
  private readonly prepared = new Set<string>();
  private readonly firewalled = new Set<string>();
  private readonly failures = new Map<string, string>();

  constructor(private readonly options: NodePreparationOptions) {}

  /** Forget everything (a reconnection: nodes may have been rebuilt meanwhile). */
  reset(): void {
    this.prepared.clear();
    this.firewalled.clear();
  }

  isPrepared(nodeId: string): boolean {
    return this.prepared.has(nodeId);
  }

  /** Image and network config on the node, then the rules if its bridge exists already. Failures are logged once and leave it unprepared. */
  async prepare(node: SwarmNode, docker: Docker): Promise<void> {
    if (this.prepared.has(node.id)) return;
    try {
      if (this.options.firewallOf?.(node) === null) throw new Error('network.egress filters sandboxes but this node has no iptables command (swarm.nodes.<node>.iptables)');
      await removeEndedContainers(docker, this.options.serverId, this.options.logger);
      await ensureNodeImage(docker, this.options.image());
      await this.options.checkNode?.(node, docker);
      await ensureNodeNetworkConfig(docker, this.options.networkName, this.options.serverId);
      const network = await nodeSandboxNetwork(docker, this.options.networkName);
      if (network !== undefined) await this.installRules(node, network);
      this.prepared.add(node.id);
      this.failures.delete(node.id);
      this.options.logger.info(`swarm node ${node.hostname} (${node.address}) ready for sandboxes`);
    } catch (error) {
      if (this.failures.get(node.id) !== describe(error)) this.options.logger.error(`swarm node ${node.hostname} gets no sandboxes: ${describe(error)}`);
      this.failures.set(node.id, describe(error));
    }
  }

  /** Before a new sandbox on this node is provisioned (nobody can log in yet): its bridge exists now, so the rules can go in. */
  async ensureRules(node: SwarmNode, docker: Docker): Promise<void> {
    if (this.firewalled.has(node.id) || this.options.firewallOf === undefined) return;
    try {
      const network = await nodeSandboxNetwork(docker, this.options.networkName);
      if (network === undefined) throw new Error(`the sandbox network is missing on node ${node.hostname}`);
      await this.installRules(node, network);
    } catch (error) {
      this.exclude(node, `egress rules not installed: ${describe(error)}`);
      throw error;
    }
  }

  /** A node that failed a sandbox's protection: no sandbox goes there until a later preparation succeeds. */
  exclude(node: SwarmNode, why: string): void {
    this.prepared.delete(node.id);
    this.options.logger.error(`swarm node ${node.hostname} gets no sandboxes: ${why}`);
    this.failures.set(node.id, why);
  }

  /** At close, when sandboxes do not outlive the daemon: every node's rules go. */
  async removeRules(nodes: Iterable<SwarmNode>): Promise<void> {
    for (const node of nodes) {
      const firewall = this.options.firewallOf?.(node);
      if (firewall) await firewall.remove().catch((error: unknown) => this.options.logger.warn(`egress rules of node ${node.hostname} not removed: ${describe(error)}`));
    }
  }

  private async installRules(node: SwarmNode, network: SandboxNetworkInfo): Promise<void> {
    const firewall = this.options.firewallOf?.(node);
    if (firewall === undefined) return;
    if (firewall === null) throw new Error(`no iptables command for node ${node.hostname}`);
    await firewall.install(network);
    this.firewalled.add(node.id);
  }
}
