// fl.transport → the coordinator's agent transport: none for HTTP, the broker channel with the gateway as the agents' host.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/daemon/config/config-loader.js';
import { flAgentTransport } from '../../../src/daemon/fl-transport-factory.js';
import { createEgressFirewall } from '../../../src/daemon/egress-firewall-factory.js';
import type { AgentApi } from '../../../src/fl/coordinator/agent-api.js';
import { BrokerAgentTransport } from '../../../src/fl/coordinator/broker-agent-transport.js';
import type { VirtualizationInterface } from '../../../src/virtualization/virtualization-interface.js';
import { silentLogger } from '../../../src/shared/logger.js';

const backend = (gateway: string | undefined) => ({ gatewayAddress: () => gateway }) as unknown as VirtualizationInterface;
const BROKER = 'fl:\n  transport: rabbitmq\n  rabbitmq:\n    url: "amqp://anweddol:pw@127.0.0.1:5700/"\n';

describe('FL agent transport from the config', () => {
  it('leaves the HTTP default to the coordinator', () => {
    assert.equal(flAgentTransport(parseConfig('', {}, '/etc/anweddol'), backend('10.231.0.1'), silentLogger), undefined);
  });

  it('builds the broker channel for fl.transport rabbitmq', () => {
    const factory = flAgentTransport(parseConfig(BROKER, {}, '/etc/anweddol'), backend('10.231.0.1'), silentLogger);
    assert.ok(factory!({} as AgentApi) instanceof BrokerAgentTransport);
  });

  it('opens the broker port of the agent URL in the egress rules', () => {
    const firewall = createEgressFirewall(parseConfig(BROKER, {}, '/etc/anweddol'), silentLogger) as unknown as { options: { flBrokerPort?: number } };
    assert.equal(firewall.options.flBrokerPort, 5700);
  });

  it('opens no broker port under the HTTP transport', () => {
    const firewall = createEgressFirewall(parseConfig('', {}, '/etc/anweddol'), silentLogger) as unknown as { options: { flBrokerPort?: number } };
    assert.equal(firewall.options.flBrokerPort, undefined);
  });
});
