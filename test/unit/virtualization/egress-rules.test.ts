// The pure egress rule builder: policy, network, host addresses, resolvers and FL port in, iptables rules out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildEgressRules, isIpv4Cidr, NON_PUBLIC_IPV4, type EgressPolicy, type EgressRuleInput } from '../../../src/virtualization/egress/egress-rules.js';

const REJECT = '-j REJECT --reject-with icmp-admin-prohibited';
const FWD = 'ANWEDDOL-FWD-test';
const IN = 'ANWEDDOL-IN-test';

function input(policy: Partial<EgressPolicy> = {}, extra: Partial<EgressRuleInput> = {}): EgressRuleInput {
  return {
    policy: { mode: 'internet', allow: [], deny: [], ...policy },
    network: { name: 'sandboxes', bridge: 'br-0123456789ab', subnet: '10.231.7.0/24', gateway: '10.231.7.1', ipv6: false },
    chains: { forward: FWD, input: IN },
    hostAddresses: ['127.0.0.1', '192.0.2.2', '10.231.7.1', 'fd00::2'],
    resolvers: ['10.255.255.53'],
    ...extra,
  };
}

/** The rules of one chain as `iptables -S`-like lines without the `-A <chain>` prefix. */
function lines(rules: ReturnType<typeof buildEgressRules>, chain: string): string[] {
  return rules.rules.filter((r) => r.chain === chain).map((r) => r.spec.join(' '));
}

describe('buildEgressRules', () => {
  it('installs nothing for open', () => {
    assert.deepEqual(buildEgressRules(input({ mode: 'open' })), { rules: [], jumps: [] });
  });

  it('jumps from DOCKER-USER and INPUT only for traffic entering from the sandbox bridge', () => {
    assert.deepEqual(buildEgressRules(input()).jumps, [
      { chain: 'DOCKER-USER', spec: ['-i', 'br-0123456789ab', '-j', FWD] },
      { chain: 'INPUT', spec: ['-i', 'br-0123456789ab', '-j', IN] },
    ]);
  });

  it('under internet lets replies through, then DNS, blocks the server and the non-public ranges, and accepts the rest', () => {
    assert.deepEqual(lines(buildEgressRules(input()), FWD), [
      '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
      '-d 10.255.255.53/32 -p udp -m udp --dport 53 -j RETURN',
      '-d 10.255.255.53/32 -p tcp -m tcp --dport 53 -j RETURN',
      `-m conntrack --ctstate DNAT ${REJECT}`,
      `-d 10.231.7.0/24 ${REJECT}`,
      `-d 10.231.7.1/32 ${REJECT}`,
      `-d 127.0.0.1/32 ${REJECT}`,
      `-d 192.0.2.2/32 ${REJECT}`,
      ...NON_PUBLIC_IPV4.map((range) => `-d ${range} ${REJECT}`),
    ]);
  });

  it('blocks the cloud metadata range, RFC 1918 and CGNAT under internet', () => {
    const forward = lines(buildEgressRules(input()), FWD);
    for (const range of ['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10']) {
      assert.ok(forward.includes(`-d ${range} ${REJECT}`), range);
    }
  });

  it('under none lets only replies out and ends with a reject-all, without DNS', () => {
    const forward = lines(buildEgressRules(input({ mode: 'none' })), FWD);
    assert.equal(forward[0], '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN');
    assert.equal(forward.at(-1), REJECT);
    assert.ok(!forward.some((l) => l.includes('--dport 53')));
  });

  it('puts deny before DNS and allow after the server addresses, as documented precedence', () => {
    const forward = lines(buildEgressRules(input({ allow: ['10.50.0.0/24'], deny: ['203.0.113.0/24', '10.255.255.53'] })), FWD);
    const at = (l: string) => forward.indexOf(l);
    assert.ok(at(`-d 203.0.113.0/24 ${REJECT}`) > at('-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN'));
    assert.ok(at(`-d 10.255.255.53/32 ${REJECT}`) < at('-d 10.255.255.53/32 -p udp -m udp --dport 53 -j RETURN'));
    assert.ok(at('-d 10.50.0.0/24 -j RETURN') > at(`-d 10.231.7.0/24 ${REJECT}`));
    assert.ok(at('-d 10.50.0.0/24 -j RETURN') < at(`-d 10.0.0.0/8 ${REJECT}`));
  });

  it('lets allow open holes under none too', () => {
    const forward = lines(buildEgressRules(input({ mode: 'none', allow: ['198.51.100.0/24'] })), FWD);
    assert.ok(forward.indexOf('-d 198.51.100.0/24 -j RETURN') < forward.indexOf(REJECT));
  });

  it('never lets allow open the host: the input chain ignores it and rejects everything but replies', () => {
    const inputChain = lines(buildEgressRules(input({ allow: ['0.0.0.0/0'] })), IN);
    assert.deepEqual(inputChain, ['-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN', REJECT]);
  });

  it('opens the FL port on the gateway only, in every mode', () => {
    for (const mode of ['internet', 'none'] as const) {
      const inputChain = lines(buildEgressRules(input({ mode }, { flPort: 6160 })), IN);
      assert.deepEqual(inputChain, ['-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN', '-d 10.231.7.1/32 -p tcp -m tcp --dport 6160 -j RETURN', REJECT]);
    }
  });

  it('opens the FL broker port on the gateway beside the coordinator port, and nothing else of the host', () => {
    const inputChain = lines(buildEgressRules(input({ mode: 'none' }, { flPort: 6160, flBrokerPort: 5672 })), IN);
    assert.deepEqual(inputChain, [
      '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
      '-d 10.231.7.1/32 -p tcp -m tcp --dport 6160 -j RETURN',
      '-d 10.231.7.1/32 -p tcp -m tcp --dport 5672 -j RETURN',
      REJECT,
    ]);
  });

  it('refuses an FL broker port that is not a port number', () => {
    assert.throws(() => buildEgressRules(input({}, { flBrokerPort: 70000 })), /invalid FL port 70000/);
  });

  it('lets DNS reach a resolver on the host itself through the input chain', () => {
    const inputChain = lines(buildEgressRules(input({}, { resolvers: ['192.0.2.2', '10.255.255.53'] })), IN);
    assert.deepEqual(inputChain, [
      '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
      '-d 192.0.2.2/32 -p udp -m udp --dport 53 -j RETURN',
      '-d 192.0.2.2/32 -p tcp -m tcp --dport 53 -j RETURN',
      REJECT,
    ]);
  });

  it('ignores IPv6 host addresses and resolvers (sandboxes have no IPv6)', () => {
    const all = buildEgressRules(input({}, { resolvers: ['2001:4860:4860::8888'] })).rules.map((r) => r.spec.join(' '));
    assert.ok(!all.some((l) => l.includes(':')));
  });

  it('refuses a bridge name that is not an interface name', () => {
    const bad = input();
    bad.network = { ...bad.network, bridge: 'br-x -j ACCEPT' };
    assert.throws(() => buildEgressRules(bad), /invalid bridge name/);
  });

  it('refuses an allow entry that is not an IPv4 address or range', () => {
    assert.throws(() => buildEgressRules(input({ allow: ['10.0.0.0/8 -j ACCEPT'] })), /not an IPv4 address or CIDR range/);
  });
});

describe('isIpv4Cidr', () => {
  it('accepts addresses and ranges, and refuses IPv6, prefixes above 32 and junk', () => {
    assert.deepEqual(
      ['10.0.0.1', '10.0.0.0/8', '0.0.0.0/0', '::1', '10.0.0.0/33', '10.0.0.0/', 'any', '10.0.0.0/8/8'].map(isIpv4Cidr),
      [true, true, true, false, false, false, false, false],
    );
  });
});
