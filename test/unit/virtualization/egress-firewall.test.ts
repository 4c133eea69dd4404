// EgressFirewall's refusals with a fake iptables: the error names the fix, and an IPv6 network is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EgressError, EgressFirewall, egressChains, type IptablesExec } from '../../../src/virtualization/egress/egress-firewall.js';

const network = { name: 'sandboxes', bridge: 'br-0123456789ab', subnet: '10.231.7.0/24', gateway: '10.231.7.1', ipv6: false };

function firewall(exec: IptablesExec): EgressFirewall {
  return new EgressFirewall({ serverId: 'unit', policy: { mode: 'internet', allow: [], deny: [] }, exec, hostAddresses: () => [], resolvers: () => [] });
}

const denied: IptablesExec = () => Promise.reject(new Error('Could not fetch rule set generation id: Permission denied (you must be root)'));

describe('EgressFirewall', () => {
  it('names the fix when iptables cannot be used', async () => {
    await assert.rejects(firewall(denied).preflight(), (error: unknown) => {
      assert.ok(error instanceof EgressError);
      assert.match(error.message, /Permission denied/);
      assert.match(error.message, /run the server as root or grant it CAP_NET_ADMIN \(the systemd unit does\), or set network\.egress: open/);
      return true;
    });
  });

  it('refuses a sandbox network with IPv6 before touching iptables', async () => {
    const calls: string[][] = [];
    const exec: IptablesExec = async (args) => {
      calls.push(args);
      return '';
    };
    await assert.rejects(firewall(exec).install({ ...network, ipv6: true }), /has IPv6 enabled/);
    assert.deepEqual(calls, []);
  });

  it("explains a missing DOCKER-USER chain as dockerd's iptables being off", async () => {
    const exec: IptablesExec = async (args) => {
      if (args.includes('DOCKER-USER')) throw new Error('No chain/target/match by that name.');
      return '';
    };
    await assert.rejects(firewall(exec).install(network), /DOCKER-USER chain is missing .*--iptables=true/);
  });

  it('reports itself installed only after a successful install, and not after removal', async () => {
    let fail = true;
    const exec: IptablesExec = async (args) => {
      if (fail) throw new Error('boom');
      if (args[0] === '-S') return `-N ${args[1]}\n`;
      return '';
    };
    const fw = firewall(exec);
    await assert.rejects(fw.install(network), EgressError);
    assert.equal(fw.isInstalled(), false);
    fail = false;
    await fw.install(network);
    assert.equal(fw.isInstalled(), true);
    await fw.remove();
    assert.equal(fw.isInstalled(), false);
  });

  it('moves FORWARD\'s jump to DOCKER-USER back to the top when bridge rules were put above it', async () => {
    // Another engine on the host inserted its bridge rules first: DNAT'd traffic to a published port would be accepted before DOCKER-USER.
    const forward = [
      ['-o', 'br-other', '-j', 'DOCKER'],
      ['-j', 'DOCKER-USER'],
      ['-j', 'DOCKER-ISOLATION-STAGE-1'],
    ];
    const exec: IptablesExec = async (args) => {
      if (args[1] !== 'FORWARD') return args[0] === '-S' ? `-N ${args[1]}\n` : '';
      if (args[0] === '-S') return ['-P FORWARD DROP', ...forward.map((spec) => `-A FORWARD ${spec.join(' ')}`)].join('\n') + '\n';
      if (args[0] === '-I') forward.splice(Number(args[2]) - 1, 0, args.slice(3));
      if (args[0] === '-D') forward.splice(Number(args[2]) - 1, 1);
      return '';
    };
    await firewall(exec).install(network);
    assert.deepEqual(forward, [['-j', 'DOCKER-USER'], ['-o', 'br-other', '-j', 'DOCKER'], ['-j', 'DOCKER-ISOLATION-STAGE-1']]);
  });

  it('leaves FORWARD alone when it already jumps to DOCKER-USER first', async () => {
    const changes: string[][] = [];
    const exec: IptablesExec = async (args) => {
      if (args[1] === 'FORWARD' && args[0] === '-S') return '-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n-A FORWARD -o br-other -j DOCKER\n';
      if (args[1] === 'FORWARD') changes.push(args);
      return args[0] === '-S' ? `-N ${args[1]}\n` : '';
    };
    await firewall(exec).install(network);
    assert.deepEqual(changes, []);
  });

  it('gives two servers different chains, each short enough for iptables', () => {
    const a = egressChains('anweddol-aaaaaaaaaaaa');
    const b = egressChains('anweddol-bbbbbbbbbbbb');
    assert.notEqual(a.forward, b.forward);
    for (const name of [a.forward, a.input]) assert.ok(name.length <= 28, name);
  });
});
