// The egress policy on the real sandbox network: a sandbox's shell tries host services, another sandbox, a LAN host and a public host.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DockerVirtualization } from '../../src/virtualization/docker/docker-virtualization.js';
import { EgressFirewall } from '../../src/virtualization/egress/egress-firewall.js';
import type { EgressPolicy } from '../../src/virtualization/egress/egress-rules.js';
import type { Sandbox, SandboxNetworkInfo } from '../../src/virtualization/virtualization-interface.js';
import { containersOf, docker, dockerHost, SANDBOX_IMAGE, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';
import { createNetnsHost, hostService, type NetnsHost } from '../helpers/netns-host.js';

const serverId = uniqueServerId('egress');
const neighbourId = uniqueServerId('egress-neighbour');
const networkName = `${serverId}-net`;
// Outside docker's pools (10.231/16, 10.232/16); TEST-NET-2 stands for the public internet.
const LAN = { hostAddress: '10.183.47.1', address: '10.183.47.2', prefix: 24 };
const PUBLIC = { hostAddress: '198.51.100.1', address: '198.51.100.2', prefix: 30 };
const SERVICE_PORT = 8080;
const CLIENT = { username: 'user_31337', password: 'EgressTestPassword0123456789' };

function iptables(args: string[]): string {
  return execFileSync('iptables', ['-w', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

interface Probe {
  reached: boolean;
  output: string;
}

describe('egress policy on the real sandbox network', () => {
  let backend: DockerVirtualization;
  let neighbourBackend: DockerVirtualization;
  let network: SandboxNetworkInfo;
  let prober: Sandbox;
  let neighbour: Sandbox;
  let lan: NetnsHost;
  let publicHost: NetnsHost;
  let service: { port: number; close(): Promise<void> };
  let coordinator: { port: number; close(): Promise<void> };
  let broker: { port: number; close(): Promise<void> };
  let firewall: EgressFirewall | undefined;
  let parentsBefore: string;
  const cleanup: Array<() => Promise<unknown> | unknown> = [];

  /** Connects from the prober's client shell (over SSH) and reads one line; a reject shows as "No route to host". */
  async function probe(host: string, port: number): Promise<Probe> {
    const command = `timeout 5 bash -c 'exec 3<>/dev/tcp/${host}/${port} && head -n 1 <&3' 2>&1; echo "exit=$?"`;
    const result = await sshRun(prober.port, CLIENT.username, CLIENT.password, command);
    return { reached: !/exit=[1-9]/.test(result.stdout), output: result.stdout.trim() };
  }

  async function assertReached(host: string, port: number, banner: string): Promise<void> {
    const p = await probe(host, port);
    assert.ok(p.reached && p.output.includes(banner), `expected ${host}:${port} to answer "${banner}", got: ${p.output}`);
  }

  async function assertBlocked(host: string, port: number): Promise<void> {
    const p = await probe(host, port);
    assert.ok(!p.reached && /No route to host/.test(p.output), `expected ${host}:${port} to be rejected, got: ${p.output}`);
  }

  async function install(policy: Partial<EgressPolicy>): Promise<EgressFirewall> {
    firewall = new EgressFirewall({
      serverId,
      policy: { mode: 'internet', allow: [], deny: [], ...policy },
      flPort: coordinator.port,
      flBrokerPort: broker.port,
      resolvers: () => [LAN.address],
    });
    await firewall.install(network);
    return firewall;
  }

  function chainRules(chain: string): string {
    return iptables(['-S', chain]);
  }

  function parents(): string {
    return chainRules('DOCKER-USER') + chainRules('INPUT');
  }

  before(async () => {
    const common = { dockerHost: dockerHost(), image: SANDBOX_IMAGE, networkName, memoryMiB: 256, vcpus: 1, pidsLimit: 128 };
    backend = new DockerVirtualization({ ...common, serverId, publishedAddress: '127.0.0.1', portRange: [14700, 14749] });
    cleanup.push(() => backend.close());
    cleanup.push(() => docker(['network', 'rm', networkName]));
    await backend.start();
    network = backend.networkInfo()!;
    // The neighbour publishes its SSH port on the gateway: what any sandbox finds there when published_address is 0.0.0.0.
    neighbourBackend = new DockerVirtualization({ ...common, serverId: neighbourId, publishedAddress: network.gateway, portRange: [14750, 14799] });
    cleanup.push(() => neighbourBackend.close());
    await neighbourBackend.start();
    prober = await backend.create({ uuid: randomUUID(), ...CLIENT });
    cleanup.push(() => backend.destroy(prober.id));
    neighbour = await neighbourBackend.create({ uuid: randomUUID(), username: 'user_31338', password: `${CLIENT.password}x` });
    cleanup.push(() => neighbourBackend.destroy(neighbour.id));
    service = await hostService('host-service');
    cleanup.push(() => service.close());
    coordinator = await hostService('fl-coordinator');
    cleanup.push(() => coordinator.close());
    broker = await hostService('fl-broker');
    cleanup.push(() => broker.close());
    lan = createNetnsHost(LAN);
    cleanup.push(() => lan.close());
    await lan.listen(SERVICE_PORT, 'lan-host');
    await lan.listen(53, 'lan-dns');
    publicHost = createNetnsHost(PUBLIC);
    cleanup.push(() => publicHost.close());
    await publicHost.listen(SERVICE_PORT, 'public-host');
    parentsBefore = parents();
  });

  after(async () => {
    // Rules first, so a failure below never leaves them behind.
    await firewall?.remove().catch(() => {});
    for (const step of cleanup.reverse()) await Promise.resolve().then(step).catch(() => {});
    assert.deepEqual([...containersOf(serverId), ...containersOf(neighbourId)], [], 'no container left behind');
  });

  it('reaches every target without rules (the control that lets the tests below fail)', async () => {
    await assertReached(network.gateway, service.port, 'host-service');
    await assertReached(network.gateway, neighbour.port, 'SSH-2.0');
    await assertReached(LAN.address, SERVICE_PORT, 'lan-host');
    await assertReached(PUBLIC.address, SERVICE_PORT, 'public-host');
  });

  it('installs rules rejecting the metadata range and the private ranges, jumped to for the sandbox bridge only', async () => {
    const fw = await install({});
    const forward = chainRules(fw.chains.forward);
    for (const range of ['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10']) {
      assert.ok(forward.includes(`-A ${fw.chains.forward} -d ${range} -j REJECT --reject-with icmp-admin-prohibited`), `${range} in:\n${forward}`);
    }
    assert.ok(chainRules('DOCKER-USER').startsWith(`-N DOCKER-USER\n-A DOCKER-USER -i ${network.bridge} -j ${fw.chains.forward}\n`));
    assert.ok(chainRules('INPUT').includes(`-A INPUT -i ${network.bridge} -j ${fw.chains.input}\n`));
  });

  it('blocks a host service listening on 0.0.0.0, reached through the gateway', async () => {
    await assertBlocked(network.gateway, service.port);
  });

  it("blocks another sandbox's published SSH port, reached through the gateway", async () => {
    await assertBlocked(network.gateway, neighbour.port);
  });

  it('keeps the FL coordinator port on the gateway reachable', async () => {
    await assertReached(network.gateway, coordinator.port, 'fl-coordinator');
  });

  it('keeps the FL broker port on the gateway reachable (fl.transport: rabbitmq)', async () => {
    await assertReached(network.gateway, broker.port, 'fl-broker');
  });

  it('blocks a LAN host at a private address under internet', async () => {
    await assertBlocked(LAN.address, SERVICE_PORT);
  });

  it("lets the engine's resolver be reached on port 53 only, though it is at a private address", async () => {
    await assertReached(LAN.address, 53, 'lan-dns');
  });

  it('lets a public host be reached under internet', async () => {
    await assertReached(PUBLIC.address, SERVICE_PORT, 'public-host');
  });

  it('leaves the same rules when installed twice', async () => {
    const fw = firewall!;
    const once = [chainRules(fw.chains.forward), chainRules(fw.chains.input), parents()];
    await fw.install(network);
    assert.deepEqual([chainRules(fw.chains.forward), chainRules(fw.chains.input), parents()], once);
  });

  it('opens a LAN host once it is listed in network.allow', async () => {
    await install({ allow: [`${LAN.address}/32`] });
    await assertReached(LAN.address, SERVICE_PORT, 'lan-host');
  });

  it('blocks the public host under none', async () => {
    await install({ mode: 'none' });
    await assertBlocked(PUBLIC.address, SERVICE_PORT);
  });

  it('gives sandboxes no IPv6 at all (the rules cover IPv4 only)', async () => {
    assert.equal(network.ipv6, false);
    const result = await sshRun(prober.port, CLIENT.username, CLIENT.password, 'cat /proc/net/if_inet6; cat /proc/sys/net/ipv6/conf/all/disable_ipv6');
    assert.equal(result.stdout, '1\n');
  });

  it('removes its chains and jumps, leaving DOCKER-USER and INPUT as they were', async () => {
    const fw = firewall!;
    await fw.remove();
    assert.equal(parents(), parentsBefore);
    assert.throws(() => chainRules(fw.chains.forward));
    assert.throws(() => chainRules(fw.chains.input));
  });
});
