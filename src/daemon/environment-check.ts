// `start --check`: everything start needs, verified without starting; every problem is listed, one line each.
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { RsaKeyPair } from '../crypto/rsa-key-pair.js';
import { AnweddolDatabase } from '../database/database.js';
import { assertDiskLimitSupported } from '../virtualization/docker/disk-limit-support.js';
import { describe, dockerFromHost } from '../virtualization/docker/docker-engine.js';
import { swarmDiskLimitProblems } from '../virtualization/swarm/node-disk-limit.js';
import type { SwarmNode } from '../virtualization/swarm/swarm-state.js';
import { BackendConfigurationError, DiskLimitUnsupportedError } from '../virtualization/virtualization-errors.js';
import type { AnweddolConfig } from './config/config-schema.js';
import { checkRunAsUser } from './anweddol-compat.js';
import { processIdentity, readTlsFiles } from './daemon.js';
import { loadSandboxSeccompProfile } from './seccomp-profile-file.js';
import { diskLimitProblem, nodeConfigOf } from './virtualization-factory.js';
import { createEgressFirewall } from './egress-firewall-factory.js';
import { silentLogger } from '../shared/logger.js';
import { loadPlugins, PluginError } from './plugins/plugin-loader.js';
import { ipvsAvailable, NO_IPVS_MESSAGE } from '../virtualization/swarm/routing-mesh.js';

export interface CheckOptions {
  web?: boolean;
  /** false: leave Docker out (the pre-start check: the daemon starts without Docker and waits for it). */
  docker?: boolean;
}

export async function checkEnvironment(config: AnweddolConfig, options: CheckOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const web = options.web === true || config.web_server.enabled;
  const s = config.server;
  const runAs = checkRunAsUser(s.user, processIdentity());
  if (!runAs.ok) problems.push(runAs.refusal);

  if (s.enable_tcp) await checkBindable(s.bind_address, s.listen_port, 'server.listen_port', problems);
  if (web) await checkBindable(config.web_server.bind_address, config.web_server.listen_port, 'web_server.listen_port', problems);
  if (config.fl.enabled) await checkBindable('127.0.0.1', config.fl.listen_port, 'fl.listen_port', problems);
  if (config.metrics.enabled) await checkBindable(config.metrics.bind_address, config.metrics.listen_port, 'metrics.listen_port', problems);

  if (!s.enable_onetime_rsa_keys) {
    if (existsSync(s.public_rsa_key_file_path) && existsSync(s.private_rsa_key_file_path)) {
      await RsaKeyPair.load(s.public_rsa_key_file_path, s.private_rsa_key_file_path).catch((error: Error) =>
        problems.push(`server.private_rsa_key_file_path: RSA key pair unusable (${error.message})`),
      );
    } else {
      checkWritableDir(s.private_rsa_key_file_path, 'server.private_rsa_key_file_path', problems);
      checkWritableDir(s.public_rsa_key_file_path, 'server.public_rsa_key_file_path', problems);
    }
  }
  if (web && config.web_server.enable_ssl) {
    try {
      readTlsFiles(config);
    } catch (error) {
      problems.push(`web_server.enable_ssl: ${(error as Error).message}`);
    }
  }
  checkWritableDir(s.log_file_path, 'server.log_file_path', problems);
  checkWritableDir(s.pid_file_path, 'server.pid_file_path', problems);
  checkWritableDir(s.admin_socket_path, 'server.admin_socket_path', problems);
  for (const [key, path] of [
    ['database.file_path', config.database.file_path],
    ['access_token.access_token_database_file_path', config.access_token.access_token_database_file_path],
  ] as const) {
    if (key !== 'database.file_path' && (!config.access_token.enabled || path === config.database.file_path)) continue;
    try {
      new AnweddolDatabase(path).close();
    } catch (error) {
      problems.push(`${key}: database not writable (${(error as Error).message})`);
    }
  }
  checkNprocLimit(config, problems);
  checkSeccompProfile(config, problems);
  if (options.docker !== false) await checkDocker(config, problems);
  await checkEgress(config, problems, options.docker !== false);
  await checkPlugins(config, problems);
  return problems;
}

/** RLIMIT_NPROC counts processes per UID across the host, and every sandbox's client user has the same UID. */
function checkNprocLimit(config: AnweddolConfig, problems: string[]): void {
  const c = config.container;
  const max = c.max_allowed_running_container_domains;
  if (max === null || c.nproc_limit > max * c.pids_limit) return;
  problems.push(
    `container.nproc_limit: ${c.nproc_limit} is not above max_allowed_running_container_domains × pids_limit (${max * c.pids_limit}): ` +
      'the kernel counts it per UID, shared by the client users of all sandboxes, so full sandboxes would stop logins in the others',
  );
}

/** The engine backend loads it at start; a swarm's nodes run their dockerd with the derived profile instead. */
function checkSeccompProfile(config: AnweddolConfig, problems: string[]): void {
  if (config.docker.mode !== 'engine') return;
  try {
    loadSandboxSeccompProfile(config);
  } catch (error) {
    problems.push((error as Error).message);
  }
}

/** Whether the egress rules could be installed (nothing is changed); Docker's own chain only when Docker is checked too. */
async function checkEgress(config: AnweddolConfig, problems: string[], withDocker: boolean): Promise<void> {
  const firewall = createEgressFirewall(config, silentLogger);
  await (withDocker ? firewall?.check() : firewall?.preflight())?.catch((error: Error) => problems.push(`network.egress: ${error.message}`));
}

/** Imports each plugin and validates its config; register() does not run (it may open files or connections). */
async function checkPlugins(config: AnweddolConfig, problems: string[]): Promise<void> {
  try {
    await loadPlugins(config.plugins);
  } catch (error) {
    if (!(error instanceof PluginError)) throw error;
    problems.push(...error.problems);
  }
}

function checkBindable(host: string, port: number, key: string, problems: string[]): Promise<void> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      problems.push(`${key}: cannot listen on ${host}:${port} (${error.code ?? error.message})`);
      resolve();
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function checkWritableDir(filePath: string, key: string, problems: string[]): void {
  const dir = dirname(filePath);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    accessSync(dir, constants.W_OK);
  } catch (error) {
    problems.push(`${key}: folder ${dir} is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** Docker Engine API over its socket (no client library here: only the backend modules import dockerode). */
function dockerGet(host: string, path: string): Promise<number> {
  const url = host.startsWith('unix://') ? undefined : new URL(host.replace(/^tcp:/, 'http:'));
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: url ? undefined : host.slice('unix://'.length), host: url?.hostname, port: url?.port, path, method: 'GET', timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function checkDocker(config: AnweddolConfig, problems: string[]): Promise<void> {
  const host = config.docker.host;
  try {
    const ping = await dockerGet(host, '/_ping');
    if (ping !== 200) throw new Error(`HTTP ${ping}`);
  } catch (error) {
    problems.push(`docker.host: Docker is not reachable at ${host} (${(error as Error).message})`);
    return;
  }
  if (config.docker.mode === 'swarm') {
    // GET /swarm answers 200 on a manager only; nodes pull a registry image at start, so presence here proves nothing.
    const swarm = await dockerGet(host, '/swarm').catch(() => 0);
    if (swarm !== 200) problems.push(`docker.mode: swarm, but docker.host ${host} is not a swarm manager (docker swarm init, or point docker.host at a manager)`);
    else await checkSwarmDiskLimit(config, problems);
    if (config.swarm.publish === 'ingress' && !ipvsAvailable()) problems.push(NO_IPVS_MESSAGE);
    return;
  }
  const status = await dockerGet(host, `/images/${encodeURIComponent(config.container.image)}/json`).catch(() => 0);
  if (status !== 200) problems.push(`container.image: image ${config.container.image} is not present (run \`anweddol-server build-image\`)`);
  await checkDiskLimit(config, problems);
}

/** Each node's preparation check (btrfs driver, quotas, the node's btrfs command), so `start --check` names the nodes that will get no sandboxes. */
async function checkSwarmDiskLimit(config: AnweddolConfig, problems: string[]): Promise<void> {
  const limit = config.container.disk_limit;
  if (limit === null) return;
  const btrfsOf = (node: SwarmNode) => nodeConfigOf(config, node)?.btrfs ?? null;
  await swarmDiskLimitProblems(dockerFromHost(config.docker.host), config.swarm.nodes, { diskLimitMiB: limit, btrfsOf }, config.container.image).then(
    (lines) => problems.push(...lines.map((line) => `container.disk_limit: ${line}`)),
    (error: unknown) => problems.push(`container.disk_limit: cannot check the swarm nodes (${describe(error)})`),
  );
}

/** The same check the backend makes at start, so `start --check` predicts a refusal. */
async function checkDiskLimit(config: AnweddolConfig, problems: string[]): Promise<void> {
  const limit = config.container.disk_limit;
  if (limit === null) return;
  try {
    await assertDiskLimitSupported(dockerFromHost(config.docker.host), config.container.image, limit);
  } catch (error) {
    problems.push(
      error instanceof DiskLimitUnsupportedError
        ? diskLimitProblem(error)
        : error instanceof BackendConfigurationError
          ? `container.disk_limit: ${error.message}`
          : `container.disk_limit: cannot check the storage driver (${describe(error)})`,
    );
  }
}
