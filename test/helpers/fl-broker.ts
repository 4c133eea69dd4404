// FL over a real private broker: the coordinator's broker transport with per-client users, and the agents' view of it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../src/shared/logger.js';
import type { AgentApi } from '../../src/fl/coordinator/agent-api.js';
import { BrokerAgentTransport } from '../../src/fl/coordinator/broker-agent-transport.js';
import { defaultAgentUrl } from '../../src/fl/coordinator/broker-route.js';
import { RabbitmqctlUsers } from '../../src/fl/coordinator/broker-users.js';
import type { RabbitmqBroker } from './rabbitmq-broker.js';

/** rabbitmqctl for this broker: its node name, and its private epmd port (from the settings scripts/rabbitmq.sh keeps). */
export function rabbitmqctlFor(broker: RabbitmqBroker): string[] {
  const settings = Object.fromEntries(readFileSync(join(broker.dir, 'broker.env'), 'utf8').split('\n').filter(Boolean).map((l) => l.split('=', 2) as [string, string]));
  return ['env', `ERL_EPMD_PORT=${settings.epmd_port}`, 'rabbitmqctl', '-n', settings.node!];
}

/** The transports a coordinator creates, kept for the test's assertions (refused messages). */
export interface BrokerTransports {
  factory: (agents: AgentApi) => BrokerAgentTransport;
  created: BrokerAgentTransport[];
}

/** Agents dial `agentHost` (the sandbox gateway, or 127.0.0.1 for in-process agents) with their own broker user. */
export function brokerTransports(broker: RabbitmqBroker, agentHost: string, options: { maxUploadBytes?: number; logger?: Logger } = {}): BrokerTransports {
  const users = new RabbitmqctlUsers(rabbitmqctlFor(broker));
  const created: BrokerAgentTransport[] = [];
  return {
    created,
    factory: (agents) => {
      const t = new BrokerAgentTransport(agents, {
        url: broker.url, agentUrl: () => defaultAgentUrl(broker.url, agentHost), users, maxUploadBytes: options.maxUploadBytes ?? 4 * 1024 * 1024, ...(options.logger ? { logger: options.logger } : {}),
      });
      created.push(t);
      return t;
    },
  };
}
