// Runs the real anweddol-server CLI as a child process against a throwaway configuration (temp dir, free ports).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { isProcessAlive } from '../../src/daemon/pid-file.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(REPO_ROOT, 'src/cli/main.ts');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliSpawnOptions {
  env?: Record<string, string>;
  /** The script node runs (default src/cli/main.ts); e.g. an `anwdlserver` symlink to it. */
  entry?: string;
  /** A command node runs under (e.g. setpriv to drop a capability). */
  wrapper?: string[];
}

function spawnCli(args: string[], options: CliSpawnOptions): ChildProcess {
  const [command, ...prefix] = [...(options.wrapper ?? []), process.execPath];
  return spawn(command!, [...prefix, '--import', 'tsx', options.entry ?? MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ANWEDDOL_CONFIG: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** `node --import tsx src/cli/main.ts ...args`, with the given environment additions. */
export function runCli(args: string[], options: CliSpawnOptions & { timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Foreground {
  child: ChildProcess;
  /** The start report line. */
  firstLine: Promise<string>;
  output(): string;
  stderr(): string;
  exit: Promise<number | null>;
}

/** A daemon started in the foreground (`args` hold `start --foreground` or `-d`); stop it with a signal. */
export function startForeground(args: string[], options: CliSpawnOptions = {}): Foreground {
  const child = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  // Log lines may come first on stdout (humans); the start report is the one saying "Server started" or "status".
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const line = stdout.split('\n').find((l) => /Server started|"status"/.test(l));
      if (line !== undefined) resolve(line);
    });
    child.once('exit', () => reject(new Error(`daemon exited early: ${stdout}${stderr}`)));
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, firstLine, output: () => stdout + stderr, stderr: () => stderr, exit };
}

/** The single JSON object a `--json` run printed (fails if stdout holds anything else). */
export function jsonOf(run: CliRun): { status: 'OK' | 'ERROR'; message: string; data: Record<string, unknown> } {
  const lines = run.stdout.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one JSON line on stdout, got:\n${run.stdout}\nstderr:\n${run.stderr}`);
  return JSON.parse(lines[0]!) as ReturnType<typeof jsonOf>;
}

/** Kills the daemon a failed test left behind: only the one `pidFile` names, and only while it runs. */
export function killLeftoverDaemon(pidFile: string): void {
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
  if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface TestInstall {
  dir: string;
  configPath: string;
  config: Record<string, Record<string, unknown>>;
  /** Rewrites the config file after changing `config`. */
  save(): void;
  remove(): void;
}

/** A config whose every path is under a temp dir, listeners on 127.0.0.1 free ports, small RSA keys. */
export async function createTestInstall(overrides: Record<string, Record<string, unknown>> = {}): Promise<TestInstall> {
  const dir = mkdtempSync(join(tmpdir(), 'anweddol-cli-'));
  const config: Record<string, Record<string, unknown>> = {
    server: {
      bind_address: '127.0.0.1',
      listen_port: await freePort(),
      rsa_key_size: 2048,
      public_rsa_key_file_path: 'rsa/public.pem',
      private_rsa_key_file_path: 'rsa/private.pem',
      log_file_path: 'log/server.log',
      pid_file_path: 'run/server.pid',
      admin_socket_path: 'run/admin.sock',
    },
    web_server: {
      bind_address: '127.0.0.1',
      listen_port: await freePort(),
      ssl_pem_private_key_file_path: 'ssl/key.pem',
      ssl_pem_certificate_file_path: 'ssl/cert.pem',
    },
    docker: { host: `unix://${join(dir, 'no-docker.sock')}` },
    // No warm pool unless the test is about it: each daemon start would otherwise make two sandboxes.
    container: { published_address: '127.0.0.1', warm_pool_size: 0 },
    database: { file_path: 'db/anweddol.db' },
    log_rotation: { log_archive_folder_path: 'log/archives' },
    fl: { enabled: false, listen_port: await freePort(), data_dir: 'fl' },
    metrics: { listen_port: await freePort() },
  };
  for (const [section, values] of Object.entries(overrides)) config[section] = { ...config[section], ...values };
  const configPath = join(dir, 'anweddol.conf.yaml');
  const install: TestInstall = {
    dir,
    configPath,
    config,
    save: () => writeFileSync(configPath, stringify(config)),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  install.save();
  return install;
}
