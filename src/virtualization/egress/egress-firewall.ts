// Installs and removes the egress rules with the iptables binary (execFile, no shell), in chains of our own.
import { createHash } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { commandPrefixExec } from '../command-prefix.js';
import { BackendConfigurationError } from '../virtualization-errors.js';
import type { SandboxNetworkInfo } from '../virtualization-interface.js';
import { hostEngineResolvers } from './engine-resolvers.js';
import { buildEgressRules, type EgressChains, type EgressPolicy, type IptablesRule } from './egress-rules.js';

/** The rules cannot be installed; the message names the fix. A configuration error: the backend refuses to start without them. */
export class EgressError extends BackendConfigurationError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'EGRESS_UNAVAILABLE');
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

export const EGRESS_FIX = 'run the server as root or grant it CAP_NET_ADMIN (the systemd unit does), or set network.egress: open';
const CHAIN_PREFIX = 'ANWEDDOL-';
const TIMEOUT_MS = 15_000;

/** Runs one iptables command; resolves with stdout, rejects with stderr in the message. */
export type IptablesExec = (args: string[]) => Promise<string>;

export interface EgressFirewallOptions {
  /** Names our chains (`ANWEDDOL-FWD-<hash>` / `ANWEDDOL-IN-<hash>`), so two servers never share them. */
  serverId: string;
  policy: EgressPolicy;
  /** FL coordinator port on the gateway, when FL is on. */
  flPort?: number;
  /** The broker's port on the gateway, when FL agents go through it. */
  flBrokerPort?: number;
  /** The coordinator's advertised address, when not the gateway (`fl.advertise_address`). */
  flAddress?: string;
  logger?: Logger;
  /** Default: the `iptables` binary with `-w` (waits for the xtables lock instead of failing). */
  exec?: IptablesExec;
  /** Default: every IPv4 address of this host's interfaces, read at each install. */
  hostAddresses?: () => string[];
  /** Default: what dockerd reads from /etc/resolv.conf, read at each install. */
  resolvers?: () => string[];
}

export function iptablesExec(binary = 'iptables'): IptablesExec {
  return iptablesCommandExec([binary]);
}

/** iptables behind a command prefix (`[ssh, root@node, iptables]`, `[ip, netns, exec, NS, iptables]`): a swarm node's rules. */
export function iptablesCommandExec(command: readonly string[]): IptablesExec {
  if (command.length === 0) throw new RangeError('empty iptables command');
  const run = commandPrefixExec(command, TIMEOUT_MS);
  return (args) => run(['-w', ...args]);
}

export function egressChains(serverId: string): EgressChains {
  const hash = createHash('sha256').update(serverId).digest('hex').slice(0, 10);
  return { forward: `${CHAIN_PREFIX}FWD-${hash}`, input: `${CHAIN_PREFIX}IN-${hash}` };
}

export function localIpv4Addresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === 'IPv4')
    .map((a) => a.address);
}

/** Our rule lines in `iptables -S <chain>` output (`-A <chain> …` split into the spec). */
function specsIn(listing: string, chain: string): string[][] {
  return listing
    .split('\n')
    .filter((line) => line.startsWith(`-A ${chain} `))
    .map((line) => line.split(' ').slice(2));
}

function jumpTarget(spec: string[]): string | undefined {
  const j = spec.indexOf('-j');
  return j >= 0 ? spec[j + 1] : undefined;
}

export class EgressFirewall {
  readonly chains: EgressChains;
  private readonly exec: IptablesExec;
  private readonly logger: Logger;
  /** install/remove run one at a time: a reconnection may race the daemon's stop. */
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private installed = false;

  constructor(private readonly options: EgressFirewallOptions) {
    if (options.policy.mode === 'open') throw new RangeError('no firewall for network.egress: open');
    this.chains = egressChains(options.serverId);
    this.exec = options.exec ?? iptablesExec();
    this.logger = options.logger ?? silentLogger;
  }

  /** Whether iptables can be changed here at all (CAP_NET_ADMIN, binary present); throws an EgressError naming the fix. */
  async preflight(): Promise<void> {
    try {
      await this.exec(['-S', 'INPUT']);
    } catch (error) {
      throw new EgressError(`cannot install the sandbox egress rules (${(error as Error).message}): ${EGRESS_FIX}`, { cause: error });
    }
  }

  /** preflight, plus Docker's DOCKER-USER chain (present once dockerd has started with iptables on). */
  async check(): Promise<void> {
    await this.preflight();
    await this.requireDockerUser();
  }

  /** Whether the rules are in place (installed, not removed since). */
  isInstalled(): boolean {
    return this.installed;
  }

  /** Builds the rules for this network and puts them in place; repeatable (a second call leaves the same rules). */
  install(network: SandboxNetworkInfo): Promise<void> {
    return this.serialized(async () => {
      try {
        await this.installNow(network);
        this.failure = undefined;
        this.installed = true;
      } catch (error) {
        // Retried at each reconnection: log a failure once, not every few seconds.
        if (this.failure?.message !== (error as Error).message) this.logger.error(`egress rules not installed: ${(error as Error).message}`);
        this.failure = error as Error;
        throw error;
      }
    });
  }

  /** Removes our jumps and chains; leaves every other rule as it was. */
  remove(): Promise<void> {
    return this.serialized(async () => {
      this.installed = false;
      for (const parent of ['DOCKER-USER', 'INPUT']) await this.removeJumps(parent, () => true);
      for (const chain of [this.chains.forward, this.chains.input]) {
        await this.exec(['-F', chain]).catch(() => {});
        await this.exec(['-X', chain]).catch(() => {});
      }
      this.logger.info('egress rules removed');
    });
  }

  private serialized<T>(step: () => Promise<T>): Promise<T> {
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => {});
    return next;
  }

  private async installNow(network: SandboxNetworkInfo): Promise<void> {
    if (network.ipv6) {
      throw new EgressError(`the sandbox network ${network.bridge} has IPv6 enabled, which the egress rules do not cover: use a network without IPv6, or set network.egress: open`);
    }
    const { rules, jumps } = buildEgressRules({
      policy: this.options.policy,
      network,
      chains: this.chains,
      hostAddresses: (this.options.hostAddresses ?? localIpv4Addresses)(),
      resolvers: (this.options.resolvers ?? hostEngineResolvers)(),
      flPort: this.options.flPort,
      flBrokerPort: this.options.flBrokerPort,
      flAddress: this.options.flAddress,
    });
    await this.requireDockerUser();
    try {
      for (const chain of [this.chains.forward, this.chains.input]) {
        await this.rebuild(chain, rules.filter((r) => r.chain === chain));
      }
      for (const jump of jumps) await this.ensureJump(jump);
      await this.ensureDockerUserFirst();
    } catch (error) {
      if (error instanceof EgressError) throw error;
      throw new EgressError(`cannot install the sandbox egress rules (${(error as Error).message}): ${EGRESS_FIX}`, { cause: error });
    }
    await this.warnAboutSharedBridge(network.bridge);
    const m = this.options.policy;
    this.logger.info(`egress rules installed on ${network.bridge} (${m.mode}, ${m.allow.length} allowed, ${m.deny.length} denied ranges)`);
  }

  private async requireDockerUser(): Promise<void> {
    try {
      await this.exec(['-S', 'DOCKER-USER']);
    } catch (error) {
      throw new EgressError(`Docker's DOCKER-USER chain is missing (${(error as Error).message}): dockerd must run with --iptables=true, or set network.egress: open`);
    }
  }

  /**
   * Replaces a chain's contents without a moment of no filtering: a reject-all guard goes on top first,
   * the old rules go, the new ones are appended, and the guard goes last.
   */
  private async rebuild(chain: string, rules: IptablesRule[]): Promise<void> {
    await this.exec(['-N', chain]).catch(async (error: Error) => {
      // Already there (a previous run, or a reinstall): reuse it. Anything else is a real failure.
      await this.exec(['-S', chain]).catch(() => {
        throw error;
      });
    });
    await this.exec(['-I', chain, '1', '-j', 'REJECT']);
    const old = specsIn(await this.exec(['-S', chain]), chain).length - 1;
    for (let i = 0; i < old; i++) await this.exec(['-D', chain, '2']);
    for (const rule of rules) await this.exec(['-A', chain, ...rule.spec]);
    await this.exec(['-D', chain, '1']);
  }

  /**
   * Our FORWARD rules hang off DOCKER-USER, which only filters if FORWARD jumps to it before any ACCEPT: a bridge's
   * `-o br-… -j DOCKER` rules above it would let DNAT'd traffic to a published port skip our chain. Each dockerd puts the
   * jump first when it starts, but a second engine on the same host (another server, a swarm manager) or a hand-made
   * rule can push it down; put it back first, as dockerd itself does.
   */
  private async ensureDockerUserFirst(): Promise<void> {
    const present = specsIn(await this.exec(['-S', 'FORWARD']), 'FORWARD');
    const isJump = (spec: string[]): boolean => spec.join(' ') === '-j DOCKER-USER';
    if (present.length > 0 && isJump(present[0] ?? []) && present.filter(isJump).length === 1) return;
    this.logger.warn('FORWARD did not jump to DOCKER-USER first (another engine or a manual rule reordered it): moving the jump back to the top');
    await this.exec(['-I', 'FORWARD', '1', '-j', 'DOCKER-USER']);
    for (let i = present.filter(isJump).length; i > 0; i--) {
      // The copies further down are redundant once the first rule jumps; -D removes the first match, so delete from position 2 on.
      const now = specsIn(await this.exec(['-S', 'FORWARD']), 'FORWARD');
      const index = now.findIndex((spec, at) => at > 0 && isJump(spec));
      if (index < 0) break;
      await this.exec(['-D', 'FORWARD', String(index + 1)]);
    }
  }

  /** Exactly one jump, first in its parent chain; stale jumps of ours (an older bridge) go. */
  private async ensureJump(jump: IptablesRule): Promise<void> {
    const wanted = jump.spec.join(' ');
    const target = jumpTarget(jump.spec);
    const present = specsIn(await this.exec(['-S', jump.chain]), jump.chain);
    const first = present[0]?.join(' ') === wanted;
    const ours = present.filter((spec) => jumpTarget(spec) === target);
    if (first && ours.length === 1) return;
    await this.removeJumps(jump.chain, (spec) => jumpTarget(spec) === target);
    await this.exec(['-I', jump.chain, '1', ...jump.spec]);
  }

  private async removeJumps(parent: string, which: (spec: string[]) => boolean): Promise<void> {
    const listing = await this.exec(['-S', parent]).catch(() => '');
    const ours = new Set([this.chains.forward, this.chains.input]);
    for (const spec of specsIn(listing, parent)) {
      const target = jumpTarget(spec);
      if (target !== undefined && ours.has(target) && which(spec)) await this.exec(['-D', parent, ...spec]);
    }
  }

  /** Another server's chains on the same bridge also filter these sandboxes (its catch-all closes our FL port, ours closes its). */
  private async warnAboutSharedBridge(bridge: string): Promise<void> {
    const listing = await this.exec(['-S', 'INPUT']).catch(() => '');
    const foreign = specsIn(listing, 'INPUT')
      .filter((spec) => spec[0] === '-i' && spec[1] === bridge)
      .map(jumpTarget)
      .filter((t): t is string => t !== undefined && t.startsWith(CHAIN_PREFIX) && t !== this.chains.input);
    if (foreign.length > 0) {
      this.logger.warn(`the sandbox bridge ${bridge} is also filtered by ${foreign.join(', ')} (another anweddol-server on the same network): give each server its own container.network_name`);
    }
  }
}
