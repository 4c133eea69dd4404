// Pure egress rule builder: from a policy and the sandbox network, the iptables rules that confine what sandboxes reach.
import { isIPv4 } from 'node:net';
import type { SandboxNetworkInfo } from '../virtualization-interface.js';

/** `internet`: public addresses only; `none`: replies only; `open`: no filtering at all. */
export type EgressMode = 'internet' | 'none' | 'open';

export interface EgressPolicy {
  mode: EgressMode;
  /** IPv4 addresses or CIDR ranges opened despite the non-public ranges (and, under `none`, despite the default). */
  allow: readonly string[];
  /** IPv4 addresses or CIDR ranges always closed; deny wins over allow and over DNS. */
  deny: readonly string[];
}

/** One rule of a chain: `iptables -A <chain> <spec…>` (or -I/-D/-C with the same spec). */
export interface IptablesRule {
  chain: string;
  spec: string[];
}

export interface EgressChains {
  /** Jumped to from Docker's DOCKER-USER (FORWARD): sandbox traffic leaving the host. */
  forward: string;
  /** Jumped to from INPUT: sandbox traffic to the host itself (gateway, host services, docker-proxy ports). */
  input: string;
}

export interface EgressRuleInput {
  policy: EgressPolicy;
  network: SandboxNetworkInfo;
  chains: EgressChains;
  /** Every address of the host (IPv6 ones are ignored: sandboxes have no IPv6). */
  hostAddresses: readonly string[];
  /** Name servers the engine forwards sandbox DNS to: reachable on port 53 under `internet`. */
  resolvers: readonly string[];
  /** FL coordinator port on the gateway, open to every sandbox (the agent API authenticates each request). */
  flPort?: number;
  /** The broker's port on the gateway for FL agents (`fl.transport: rabbitmq`), open to every sandbox (the broker authenticates). */
  flBrokerPort?: number;
}

export interface EgressRuleSet {
  /** Our chains' contents, in order (each chain is rebuilt whole). */
  rules: IptablesRule[];
  /** Jumps from Docker's and the host's chains into ours, scoped to the sandbox bridge. */
  jumps: IptablesRule[];
}

/** Addresses that are not public internet: link-local (cloud metadata), RFC 1918, CGNAT, loopback, multicast, reserved. */
export const NON_PUBLIC_IPV4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
] as const;

export const DNS_PORT = 53;
const REJECT = ['-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'];
const RETURN = ['-j', 'RETURN'];
const REPLIES = ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED'];
/** A connection whose destination was rewritten by the host: a published port (another sandbox's SSH, any host container). */
const PUBLISHED_PORT = ['-m', 'conntrack', '--ctstate', 'DNAT'];
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const CHAIN = /^[A-Za-z0-9_-]{1,28}$/;

export function isIpv4Cidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || address === undefined || !isIPv4(address)) return false;
  return prefix === undefined || (/^\d{1,2}$/.test(prefix) && Number(prefix) <= 32);
}

function cidr(value: string): string {
  if (!isIpv4Cidr(value)) throw new RangeError(`not an IPv4 address or CIDR range: ${JSON.stringify(value)}`);
  return value.includes('/') ? value : `${value}/32`;
}

function unique(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** The rules for a policy; `open` has none (nothing is installed). */
export function buildEgressRules(input: EgressRuleInput): EgressRuleSet {
  const { policy, network, chains } = input;
  if (policy.mode === 'open') return { rules: [], jumps: [] };
  if (!IFNAME.test(network.bridge)) throw new RangeError(`invalid bridge name ${JSON.stringify(network.bridge)}`);
  for (const name of [chains.forward, chains.input]) if (!CHAIN.test(name)) throw new RangeError(`invalid chain name ${JSON.stringify(name)}`);
  const flPorts = unique([input.flPort, input.flBrokerPort].filter((p) => p !== undefined).map(String));
  for (const p of flPorts) if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw new RangeError(`invalid FL port ${p}`);
  const hostAddresses = unique(input.hostAddresses.filter((a) => isIPv4(a)).map(cidr));
  const gateway = cidr(network.gateway);
  const resolvers = policy.mode === 'internet' ? unique(input.resolvers.filter((a) => isIPv4(a)).map(cidr)) : [];
  const dns = (r: string) => ['udp', 'tcp'].map((proto) => ['-d', r, '-p', proto, '-m', proto, '--dport', String(DNS_PORT), ...RETURN]);

  // Leaving the host. Order is precedence: replies, deny, DNS, the server's own addresses, allow, non-public ranges, default.
  const leaving: string[][] = [
    [...REPLIES, ...RETURN],
    ...policy.deny.map((d) => ['-d', cidr(d), ...REJECT]),
    ...resolvers.flatMap(dns),
    [...PUBLISHED_PORT, ...REJECT],
    ...unique([cidr(network.subnet), gateway, ...hostAddresses]).map((d) => ['-d', d, ...REJECT]),
    ...policy.allow.map((a) => ['-d', cidr(a), ...RETURN]),
    ...(policy.mode === 'internet' ? NON_PUBLIC_IPV4.map((d) => ['-d', d, ...REJECT]) : [REJECT]),
  ];
  // To the host itself: replies, a resolver that lives on the host, the FL coordinator and broker; nothing else, whatever allow says.
  const local = new Set([...hostAddresses, gateway]);
  const toHost: string[][] = [
    [...REPLIES, ...RETURN],
    ...resolvers.filter((r) => local.has(r)).flatMap(dns),
    ...flPorts.map((p) => ['-d', gateway, '-p', 'tcp', '-m', 'tcp', '--dport', p, ...RETURN]),
    REJECT,
  ];
  return {
    rules: [...leaving.map((spec) => ({ chain: chains.forward, spec })), ...toHost.map((spec) => ({ chain: chains.input, spec }))],
    jumps: [
      { chain: 'DOCKER-USER', spec: ['-i', network.bridge, '-j', chains.forward] },
      { chain: 'INPUT', spec: ['-i', network.bridge, '-j', chains.input] },
    ],
  };
}
