// What the backend tells host-side policy about the sandbox network, from Docker's network inspect answer.
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { describe, it } from 'node:test';
import { describeSandboxNetwork } from '../../../src/virtualization/docker/sandbox-network.js';
import { BackendConfigurationError } from '../../../src/virtualization/virtualization-errors.js';

const ID = '3f5a0c9e7b2d41e6a8c0f1d2e3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a';

function network(overrides: Partial<Docker.NetworkInspectInfo> = {}): Docker.NetworkInspectInfo {
  return {
    Name: 'anweddol-sandboxes',
    Id: ID,
    Driver: 'bridge',
    Options: { 'com.docker.network.bridge.enable_icc': 'false' },
    IPAM: { Driver: 'default', Config: [{ Subnet: '10.231.3.0/24', Gateway: '10.231.3.1' }] },
    ...overrides,
  } as Docker.NetworkInspectInfo;
}

describe('describeSandboxNetwork', () => {
  it('names the bridge br-<first 12 hex of the id>, with the subnet and gateway', () => {
    assert.deepEqual(describeSandboxNetwork(network()), { name: 'anweddol-sandboxes', bridge: `br-${ID.slice(0, 12)}`, subnet: '10.231.3.0/24', gateway: '10.231.3.1', ipv6: false });
  });

  it('uses the bridge name the network sets', () => {
    const info = network({ Options: { 'com.docker.network.bridge.enable_icc': 'false', 'com.docker.network.bridge.name': 'anw0' } });
    assert.equal(describeSandboxNetwork(info).bridge, 'anw0');
  });

  it('reports the IPv4 subnet when IPv6 is listed first', () => {
    const info = network({ IPAM: { Driver: 'default', Config: [{ Subnet: 'fd00:1::/64', Gateway: 'fd00:1::1' }, { Subnet: '10.231.4.0/24', Gateway: '10.231.4.1' }] } });
    assert.equal(describeSandboxNetwork(info).subnet, '10.231.4.0/24');
  });

  it('says when the network carries IPv6, which host-side IPv4 rules do not cover', () => {
    assert.equal(describeSandboxNetwork(network({ EnableIPv6: true })).ipv6, true);
  });

  it('refuses a network where sandboxes could talk to each other', () => {
    assert.throws(() => describeSandboxNetwork(network({ Options: {} })), (error: unknown) => error instanceof BackendConfigurationError && /enable_icc=false/.test(error.message));
  });
});
