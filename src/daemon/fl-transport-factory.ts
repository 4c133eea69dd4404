// The FL agent transport from `fl.transport` / `fl.rabbitmq`: undefined for HTTP (the coordinator's default), else the broker channel.
import type { Logger } from '../shared/logger.js';
import type { AgentApi } from '../fl/coordinator/agent-api.js';
import type { AgentTransport } from '../fl/coordinator/agent-transport.js';
import { BrokerAgentTransport } from '../fl/coordinator/broker-agent-transport.js';
import { defaultAgentUrl } from '../fl/coordinator/broker-route.js';
import { RabbitmqctlUsers } from '../fl/coordinator/broker-users.js';
import type { VirtualizationInterface } from '../virtualization/virtualization-interface.js';
import type { AnweddolConfig } from './config/config-schema.js';

export function flAgentTransport(config: AnweddolConfig, virtualization: VirtualizationInterface, logger: Logger): ((agents: AgentApi) => AgentTransport) | undefined {
  const { transport, rabbitmq } = config.fl;
  if (transport !== 'rabbitmq') return undefined;
  const url = rabbitmq.url;
  if (url === null) throw new Error('fl.transport is rabbitmq but fl.rabbitmq.url is not set');
  // Agents cannot use the daemon's 127.0.0.1: by default they dial the same broker port on the sandbox network's gateway.
  const agentUrl = (): string => {
    if (rabbitmq.agent_url !== null) return rabbitmq.agent_url;
    const gateway = virtualization.gatewayAddress();
    if (!gateway) throw new Error('the sandbox network gateway is not known (backend not started?): set fl.rabbitmq.agent_url');
    return defaultAgentUrl(url, gateway);
  };
  const users = rabbitmq.rabbitmqctl === null ? undefined : new RabbitmqctlUsers(rabbitmq.rabbitmqctl);
  return (agents) => new BrokerAgentTransport(agents, { url, agentUrl, ...(users ? { users } : {}), maxUploadBytes: rabbitmq.max_message_bytes, logger });
}
