// The daemon and its egress rules: installed at start, re-installed when dockerd comes back, removed at stop, or a refusal to start.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import type { AnweddolConfig } from '../../src/daemon/config/config-schema.js';
import { startDaemon, type DaemonOptions } from '../../src/daemon/daemon.js';
import { createVirtualization, serverIdFor } from '../../src/daemon/virtualization-factory.js';
import type { Logger } from '../../src/shared/logger.js';
import { EgressFirewall, egressChains } from '../../src/virtualization/egress/egress-firewall.js';
import { createTestInstall, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { docker, dockerHost } from '../helpers/docker-sandbox.js';
import { until } from '../helpers/until.js';

function iptables(args: string[]): string {
  return execFileSync('iptables', ['-w', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Chains of this file's servers; jumps to any other server's chains (another daemon on this machine) are not ours to compare. */
const ownChains = new Set<string>();

function parents(): string {
  return (iptables(['-S', 'DOCKER-USER']) + iptables(['-S', 'INPUT']))
    .split('\n')
    .filter((line) => {
      const target = / -j (ANWEDDOL-\S+)/.exec(line)?.[1];
      return target === undefined || ownChains.has(target);
    })
    .join('\n');
}

function bridgeOf(network: string): string {
  return `br-${docker(['network', 'inspect', '--format', '{{.Id}}', network]).slice(0, 12)}`;
}

/** Why startDaemon refused; had it started, it is stopped, so the caller's assertion fails instead of the run hanging. */
async function startFailure(config: AnweddolConfig, options?: DaemonOptions): Promise<string> {
  const outcome = await startDaemon(config, options).catch((error: Error) => error);
  if (outcome instanceof Error) return outcome.message;
  await outcome.stop();
  return 'started';
}

/** A unix socket in front of dockerd that the test can cut and restore: a dockerd outage without touching the shared engine. */
class DockerSocketProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly target: string,
  ) {}

  async up(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer((client) => {
      const upstream = createConnection(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('the daemon with egress rules', () => {
  const installs: TestInstall[] = [];
  const networks: string[] = [];
  let parentsBefore: string;

  /** A config on the real dockerd (or `host`) with a network of its own, so other tests' sandboxes are never filtered. */
  async function install(overrides: { docker?: Record<string, unknown>; network?: Record<string, unknown> } = {}): Promise<TestInstall> {
    const i = await createTestInstall({ docker: { host: dockerHost(), ...overrides.docker }, network: overrides.network ?? {} });
    const network = `anw-egress-daemon-${installs.length}-${process.pid}`;
    i.config.container = { ...i.config.container, network_name: network };
    i.save();
    const chains = egressChains(serverIdFor(loadConfig(i.configPath, {})));
    ownChains.add(chains.forward).add(chains.input);
    installs.push(i);
    networks.push(network);
    return i;
  }

  before(() => {
    parentsBefore = parents();
  });

  after(async () => {
    // A failed test may have left a daemon's rules behind: remove them by the chains its server id names.
    for (const i of installs) {
      const serverId = serverIdFor(loadConfig(i.configPath, {}));
      await new EgressFirewall({ serverId, policy: { mode: 'internet', allow: [], deny: [] } }).remove();
    }
    for (const network of networks) {
      try {
        docker(['network', 'rm', network]);
      } catch {
        // never created
      }
    }
    for (const i of installs) i.remove();
  });

  it('installs the rules for its sandbox network at start and removes them at stop, leaving DOCKER-USER and INPUT as before', async () => {
    const i = await install();
    const config = loadConfig(i.configPath, {});
    const chains = egressChains(serverIdFor(config));
    const daemon = await startDaemon(config);
    try {
      const bridge = bridgeOf(config.container.network_name!);
      assert.match(iptables(['-S', 'DOCKER-USER']), new RegExp(`^-A DOCKER-USER -i ${bridge} -j ${chains.forward}$`, 'm'));
      assert.match(iptables(['-S', 'INPUT']), new RegExp(`^-A INPUT -i ${bridge} -j ${chains.input}$`, 'm'));
    } finally {
      await daemon.stop();
    }
    assert.equal(parents(), parentsBefore);
    assert.throws(() => iptables(['-S', chains.forward]));
  });

  it('re-installs the rules when dockerd comes back after they were flushed', async () => {
    const proxy = new DockerSocketProxy(join((await install()).dir, 'docker-proxy.sock'), dockerHost().slice('unix://'.length));
    const i = installs.at(-1)!;
    i.config.docker = { host: `unix://${proxy.path}` };
    i.save();
    const config = loadConfig(i.configPath, {});
    const chains = egressChains(serverIdFor(config));
    await proxy.up();
    const daemon = await startDaemon(config);
    try {
      const jump = `-A DOCKER-USER -i ${bridgeOf(config.container.network_name!)} -j ${chains.forward}`;
      assert.ok(iptables(['-S', 'DOCKER-USER']).includes(jump));
      await proxy.down();
      const log = join(i.dir, 'log/server.log');
      await until(() => readFileSync(log, 'utf8').includes('docker backend lost'), 20_000, { what: 'the backend to see dockerd gone', everyMs: 100 });
      // What a restarting dockerd may do to DOCKER-USER.
      iptables(['-D', 'DOCKER-USER', ...jump.split(' ').slice(2)]);
      await proxy.up();
      await until(() => iptables(['-S', 'DOCKER-USER']).includes(jump), 20_000, { what: 'the jump to come back', everyMs: 100 });
    } finally {
      await daemon.stop();
      await proxy.down();
    }
    assert.equal(parents(), parentsBefore);
  });

  it('refuses to start on a sandbox network with IPv6, which the rules do not cover', async () => {
    const i = await install();
    const network = i.config.container!.network_name as string;
    docker(['network', 'create', '--ipv6', '--subnet', 'fd42:e9e5:77::/64', '-o', 'com.docker.network.bridge.enable_icc=false', network]);
    assert.match(await startFailure(loadConfig(i.configPath, {})), /has IPv6 enabled/);
    assert.equal(parents(), parentsBefore);
  });

  it('refuses to start when a custom backend never runs the egress installer', async () => {
    const config = loadConfig((await install()).configPath, {});
    const careless = (c: AnweddolConfig, logger: Logger) => createVirtualization(c, logger);
    assert.match(await startFailure(config, { createVirtualization: careless }), /never installed the egress rules/);
  });

  describe('without CAP_NET_ADMIN', () => {
    const withoutNetAdmin = ['setpriv', '--inh-caps=-net_admin', '--bounding-set=-net_admin', '--'];
    const fix = 'run the server as root or grant it CAP_NET_ADMIN (the systemd unit does), or set network.egress: open';

    it('start refuses to run and names the fix, even past the pre-start check (--skip-check)', async () => {
      const i = await install();
      const run = await runCli(['start', '--foreground', '--skip-check', '--config', i.configPath], { wrapper: withoutNetAdmin });
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.ok((run.stdout + run.stderr).includes(fix), run.stdout + run.stderr);
    });

    it('start --check reports that the rules cannot be installed', async () => {
      const i = await install();
      const run = await runCli(['start', '--check', '--config', i.configPath], { wrapper: withoutNetAdmin });
      assert.match(run.stdout + run.stderr, /network\.egress: cannot install the sandbox egress rules \(.*Permission denied.*\)/);
    });

    it('start --check has nothing to say about egress when it is open', async () => {
      const i = await install({ network: { egress: 'open' } });
      const run = await runCli(['start', '--check', '--config', i.configPath], { wrapper: withoutNetAdmin });
      assert.doesNotMatch(run.stdout + run.stderr, /network\.egress/);
    });
  });
});
