// What the daemon benchmarks share: build dist/, start the real CLI daemon on 127.0.0.1 against the private dockerd, stop it, read its memory.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { AnweddolTcpClient } from '../src/client/tcp-client.js';
import { serverIdFor } from '../src/daemon/virtualization-factory.js';
import { bindProbe, PortPool } from '../src/virtualization/docker/port-pool.js';
import { REPO, SANDBOX_IMAGE } from '../test/helpers/docker-sandbox.js';

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

/** Resident and peak resident (VmHWM) memory of a process, in MiB. */
export function rssMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(/\d+/.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '0')![0]);
  return { rss: kib('VmRSS:') / 1024, hwm: kib('VmHWM:') / 1024 };
}

export async function freePort(): Promise<number> {
  const pool = new PortPool(20000 + Math.floor(Math.random() * 20000), 45000, bindProbe('127.0.0.1'));
  const port = await pool.acquire();
  if (port === undefined) throw new Error('no free port');
  return port;
}

/** The daemon runs from dist/: compile it first (tsc emits even with type errors, which are reported). */
export function buildDist(): void {
  console.error('bench: building dist/ (tsc)');
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO, stdio: 'ignore' });
  } catch {
    console.error('bench: tsc reported errors (files still emitted); continuing');
  }
}

/** The `data` of a CREATE answer a benchmark uses. */
export interface Created {
  container_uuid: string;
  client_token: string;
  container_listen_port: number;
  container_username: string;
  container_password: string;
}

/** One CREATE, timed from request to credentials; any answer but OK ends the run. */
export async function timedCreate(client: AnweddolTcpClient): Promise<{ ms: number; data: Created }> {
  const started = performance.now();
  const response = await client.create();
  const ms = performance.now() - started;
  if (response.message !== 'OK') throw new Error(`CREATE answered ${response.message}`);
  return { ms, data: response.data as unknown as Created };
}

export async function timedDestroy(client: AnweddolTcpClient, data: Created): Promise<number> {
  const started = performance.now();
  const response = await client.destroy(data.container_uuid, data.client_token);
  if (response.message !== 'OK') throw new Error(`DESTROY answered ${response.message}`);
  return performance.now() - started;
}

type ConfigSections = Record<string, Record<string, unknown>>;

export interface BenchDaemon {
  child: ChildProcess;
  /** TCP listener port on 127.0.0.1. */
  port: number;
  configFile: string;
  adminSocket: string;
  databaseFile: string;
}

/**
 * Writes a configuration in `dir` (everything the daemon writes stays there, listeners on 127.0.0.1, sandbox ports
 * published on 127.0.0.1, FL off) with `sections` merged over it key by key, starts the CLI in the foreground and waits
 * until a STAT from 127.0.0.1 is answered.
 */
export async function startDaemon(dir: string, host: string, sections: ConfigSections = {}): Promise<BenchDaemon> {
  const port = await freePort();
  const configFile = join(dir, 'anweddol.conf.yaml');
  const adminSocket = join(dir, 'admin.sock');
  const databaseFile = join(dir, 'anweddol.db');
  const base: ConfigSections = {
    server: {
      bind_address: '127.0.0.1',
      listen_port: port,
      public_rsa_key_file_path: join(dir, 'rsa/public.pem'),
      private_rsa_key_file_path: join(dir, 'rsa/private.pem'),
      log_file_path: join(dir, 'server.log'),
      pid_file_path: join(dir, 'server.pid'),
      admin_socket_path: adminSocket,
    },
    docker: { host },
    // No warm pool unless a benchmark sets one: it would add sandboxes (and dockerd load) to every run.
    container: { image: SANDBOX_IMAGE, published_address: '127.0.0.1', destroy_on_stop: true, warm_pool_size: 0 },
    database: { file_path: databaseFile },
    fl: { enabled: false, data_dir: join(dir, 'fl') },
  };
  const merged: ConfigSections = { ...base };
  for (const [name, keys] of Object.entries(sections)) merged[name] = { ...base[name], ...keys };
  writeFileSync(configFile, stringify(merged));
  const child = spawn(process.execPath, [join(REPO, 'dist/src/cli/main.js'), 'start', '--foreground', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DOCKER_HOST: host },
  });
  const daemon = { child, port, configFile, adminSocket, databaseFile };
  const client = new AnweddolTcpClient({ host: '127.0.0.1', port, rsaKeyBits: 2048 });
  // A 4096-bit server key is generated on first start: allow for it on a loaded machine.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`daemon exited with code ${child.exitCode}`);
    try {
      await client.stat();
      return daemon;
    } catch {
      if (i > 600) {
        await stopDaemon(child);
        throw new Error('daemon did not answer within 60 s');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** SIGTERM (the daemon destroys its sandboxes), SIGKILL after two minutes (as long as the CLI's `stop` waits); says so if it came to that. */
export async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    console.error('bench: the daemon did not stop within 120 s of SIGTERM; killed');
    child.kill('SIGKILL');
  }, 120_000);
  await exited;
  clearTimeout(timer);
}

/** After a stop, containers the daemon left behind (it must leave none): printed as a leak, then removed. Returns how many. */
export function reportLeftovers(host: string, databaseFile: string): number {
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_API_VERSION: '1.41' };
  const label = `anweddol.server=${serverIdFor({ database: { file_path: databaseFile } })}`;
  const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=${label}`], { env, encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  if (ids.length === 0) return 0;
  console.log(`LEAK: the stopped daemon left ${ids.length} container(s) labelled ${label}; removing them`);
  execFileSync('docker', ['rm', '-f', ...ids], { env, stdio: 'ignore' });
  return ids.length;
}
