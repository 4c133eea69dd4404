// FL over a real private broker: the coordinator's broker transport with per-client users, and the agents' view of it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../src/shared/logger.js';
import type { AgentApi } from '../../src/fl/coordinator/agent-api.js';
import { BrokerAgentTransport } from '../../src/fl/coordinator/broker-agent-transport.js';
import { defaultAgentUrl } from '../../src/fl/coordinator/broker-route.js';
import { RabbitmqctlUsers } from '../../src/fl/coordinator/broker-users.js';
import { docker, dockerHost, REPO } from './docker-sandbox.js';
import type { RabbitmqBroker } from './rabbitmq-broker.js';

/** Outside the anweddol/sandbox repository, so another tree's iso/build.sh pruning its old tags cannot remove it mid-test. */
const PINNED_IMAGE = 'anweddol/fl-broker-test:pinned';

/** The sandbox image with this tree's agent bundle (iso/build.sh reuses it when the recipe did not change), pinned by a tag of its own. */
export function imageWithThisAgent(): string {
  const host = dockerHost();
  const out = execFileSync('bash', [join(REPO, 'iso/build.sh')], { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 600_000 });
  docker(['tag', out.trim().split('\n').at(-1)!, PINNED_IMAGE], host);
  return PINNED_IMAGE;
}

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
