// The sandbox backend the daemon uses, built from the `docker`, `container` and `port_forwarding` sections.
import { sha256Hex } from '../crypto/hash.js';
import type { Logger } from '../shared/logger.js';
import type { PortForwardingOptions } from '../server/server-options.js';
import { DockerVirtualization } from '../virtualization/docker/docker-virtualization.js';
import { bindProbe, PortPool } from '../virtualization/docker/port-pool.js';
import type { DiskLimitUnsupportedError } from '../virtualization/virtualization-errors.js';
import type { SandboxNetworkInfo, VirtualizationInterface } from '../virtualization/virtualization-interface.js';
import { SwarmVirtualization } from '../virtualization/swarm/swarm-virtualization.js';
import type { SwarmNode } from '../virtualization/swarm/swarm-state.js';
import type { AnweddolConfig, SwarmNodeConfig } from './config/config-schema.js';
import { createNodeFirewalls } from './egress-firewall-factory.js';
import { loadSandboxSeccompProfile } from './seccomp-profile-file.js';

/** Containers are labelled per database file: a restarted daemon reclaims its own, two daemons never mix. */
export function serverIdFor(config: Pick<AnweddolConfig, 'database'>): string {
  return `anweddol-${sha256Hex(config.database.file_path).slice(0, 12)}`;
}

/** The one line `start` and `start --check` print when the engine cannot cap sandbox disks: the problem and both fixes. */
export function diskLimitProblem(error: DiskLimitUnsupportedError): string {
  return `container.disk_limit: ${error.message}; run dockerd on one of those (scripts/dockerd.sh: ANWEDDOL_DOCKERD_STORAGE=btrfs) or set container.disk_limit: null`;
}

/** `beforeAvailable` runs on every (re)connection before sandboxes can be created (the egress rules; a swarm installs its own on each node). */
export function createVirtualization(
  config: AnweddolConfig,
  logger: Logger,
  beforeAvailable?: (network: SandboxNetworkInfo) => Promise<void>,
): VirtualizationInterface {
  const c = config.container;
  if (config.docker.mode === 'swarm') return createSwarmVirtualization(config, logger);
  return new DockerVirtualization({
    dockerHost: config.docker.host,
    image: c.image,
    serverId: serverIdFor(config),
    publishedAddress: c.published_address,
    portRange: config.port_forwarding.port_range,
    memoryMiB: c.container_memory,
    vcpus: c.container_vcpus,
    pidsLimit: c.pids_limit,
    nofileLimit: c.nofile_limit,
    nprocLimit: c.nproc_limit,
    diskLimitMiB: c.disk_limit,
    readyTimeoutSeconds: c.ready_timeout,
    clientSudo: c.client_sudo,
    seccompProfile: loadSandboxSeccompProfile(config),
    networkName: c.network_name ?? undefined,
    logger,
    beforeAvailable,
  });
}

/**
 * The forwarders' side of `port_forwarding`: ports of the same range as the backend's, probed on the address clients
 * connect to, so a port docker publishes there is never handed to a forwarder (and the other way round).
 */
export function portForwardingOf(config: AnweddolConfig): PortForwardingOptions {
  const [first, last] = config.port_forwarding.port_range;
  const listenAddress = config.container.published_address;
  return {
    mode: config.port_forwarding.mode,
    listenAddress,
    ports: new PortPool(first, last, bindProbe(listenAddress)),
    maxConnections: config.port_forwarding.max_connections,
    maxConnectionsPerSource: config.port_forwarding.max_connections_per_source,
  };
}

function createSwarmVirtualization(config: AnweddolConfig, logger: Logger): SwarmVirtualization {
  const c = config.container;
  const s = config.swarm;
  return new SwarmVirtualization({
    dockerHost: config.docker.host,
    image: c.image,
    serverId: serverIdFor(config),
    nodePortRange: s.node_port_range,
    registry: s.registry,
    memoryMiB: c.container_memory,
    vcpus: c.container_vcpus,
    pidsLimit: c.pids_limit,
    nofileLimit: c.nofile_limit,
    nprocLimit: c.nproc_limit,
    readyTimeoutSeconds: c.ready_timeout,
    clientSudo: c.client_sudo,
    diskLimitMiB: c.disk_limit,
    btrfsOf: (node) => nodeConfigOf(config, node)?.btrfs ?? null,
    networkName: c.network_name ?? undefined,
    constraints: s.constraints,
    spread: s.spread,
    maxPerNode: s.max_per_node,
    publish: s.publish,
    nodes: s.nodes,
    firewallOf: createNodeFirewalls(config, logger),
    removeRulesOnClose: c.destroy_on_stop,
    logger,
  });
}

/** `swarm.nodes.<node>`, keyed by node id or hostname (the id wins). */
export function nodeConfigOf(config: AnweddolConfig, node: Pick<SwarmNode, 'id' | 'hostname'>): SwarmNodeConfig | undefined {
  return config.swarm.nodes[node.id] ?? config.swarm.nodes[node.hostname];
}
