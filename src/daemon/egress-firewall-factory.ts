// The sandbox egress policy from the `network` section: a firewall installed before any sandbox exists, or a warning for `open`.
import type { Logger } from '../shared/logger.js';
import { brokerPortOf } from '../fl/coordinator/broker-route.js';
import { EgressFirewall } from '../virtualization/egress/egress-firewall.js';
import type { AnweddolConfig } from './config/config-schema.js';
import { serverIdFor } from './virtualization-factory.js';

/** The firewall for this config, or undefined (with a warning) when egress is `open`. */
export function createEgressFirewall(config: AnweddolConfig, logger: Logger): EgressFirewall | undefined {
  const network = config.network;
  if (network.egress === 'open') {
    logger.warn("network.egress is open: sandboxes can reach this host's services, its LAN, the cloud metadata address and other sandboxes' published ports");
    return undefined;
  }
  return new EgressFirewall({
    serverId: serverIdFor(config),
    policy: { mode: network.egress, allow: network.allow, deny: network.deny },
    flPort: config.fl.enabled ? config.fl.listen_port : undefined,
    flBrokerPort: flBrokerPort(config),
    logger,
  });
}

/** The broker port FL agents dial on the gateway, when they go through a broker. */
function flBrokerPort(config: AnweddolConfig): number | undefined {
  const { enabled, transport, rabbitmq } = config.fl;
  const url = rabbitmq.agent_url ?? rabbitmq.url;
  return enabled && transport === 'rabbitmq' && url !== null ? brokerPortOf(url) : undefined;
}
