// The sandbox egress policy from the `network` section: a firewall installed before any sandbox exists, or a warning for `open`.
import { isIPv4 } from 'node:net';
import type { Logger } from '../shared/logger.js';
import { brokerPortOf } from '../fl/coordinator/broker-route.js';
import { EgressFirewall, iptablesCommandExec, localIpv4Addresses } from '../virtualization/egress/egress-firewall.js';
import type { NodeFirewall } from '../virtualization/swarm/node-preparation.js';
import type { SwarmNode } from '../virtualization/swarm/swarm-state.js';
import type { AnweddolConfig } from './config/config-schema.js';
import { nodeConfigOf, serverIdFor } from './virtualization-factory.js';

/** The FL coordinator port sandboxes may reach, and where (the gateway unless fl.advertise_address says otherwise). */
function flOpening(config: AnweddolConfig): { flPort?: number; flBrokerPort?: number; flAddress?: string } {
  if (!config.fl.enabled) return {};
  const advertised = config.fl.advertise_address;
  const broker = flBrokerPort(config);
  // Sandboxes have no IPv6: an IPv6 advertised address needs no opening in IPv4 rules.
  return {
    flPort: config.fl.listen_port,
    ...(broker === undefined ? {} : { flBrokerPort: broker }),
    ...(advertised !== null && isIPv4(advertised) ? { flAddress: advertised } : {}),
  };
}

/** The firewall for this config, or undefined (with a warning) when egress is `open`. */
export function createEgressFirewall(config: AnweddolConfig, logger: Logger): EgressFirewall | undefined {
  const network = config.network;
  // On a swarm the rules go to each node (createNodeFirewalls), not to this machine.
  if (config.docker.mode === 'swarm') return undefined;
  if (network.egress === 'open') {
    logger.warn("network.egress is open: sandboxes can reach this host's services, its LAN, the cloud metadata address and other sandboxes' published ports");
    return undefined;
  }
  return new EgressFirewall({
    serverId: serverIdFor(config),
    policy: { mode: network.egress, allow: network.allow, deny: network.deny },
    ...flOpening(config),
    logger,
  });
}

/** The broker port FL agents dial on the gateway, when they go through a broker. */
function flBrokerPort(config: AnweddolConfig): number | undefined {
  const { enabled, transport, rabbitmq } = config.fl;
  const url = rabbitmq.agent_url ?? rabbitmq.url;
  return enabled && transport === 'rabbitmq' && url !== null ? brokerPortOf(url) : undefined;
}

/**
 * On a swarm, one firewall per node, run through that node's `swarm.nodes.<node>.iptables` command; null for a node
 * without one (it then gets no sandboxes); undefined when egress is open.
 */
export function createNodeFirewalls(
  config: AnweddolConfig,
  logger: Logger,
): ((node: SwarmNode, swarmAddresses: () => string[]) => NodeFirewall | null) | undefined {
  const network = config.network;
  if (network.egress === 'open') {
    logger.warn('network.egress is open: sandboxes can reach their nodes\' services, their LAN, the cloud metadata address and other sandboxes\' published ports');
    return undefined;
  }
  const firewalls = new Map<string, EgressFirewall>();
  return (node, swarmAddresses) => {
    const command = nodeConfigOf(config, node)?.iptables;
    if (command === undefined || command === null) return null;
    let firewall = firewalls.get(node.id);
    if (firewall === undefined) {
      firewall = new EgressFirewall({
        serverId: serverIdFor(config),
        policy: { mode: network.egress, allow: network.allow, deny: network.deny },
        // Every node's address and this host's are closed to sandboxes, as one engine's host is (other nodes publish sandboxes' SSH too).
        hostAddresses: () => [...new Set([...localIpv4Addresses(), ...swarmAddresses()])],
        ...flOpening(config),
        exec: iptablesCommandExec(command),
        logger,
      });
      firewalls.set(node.id, firewall);
    }
    return firewall;
  };
}
