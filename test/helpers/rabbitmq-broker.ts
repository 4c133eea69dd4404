// Test fixture for a real broker: a private rabbitmq-server (scripts/rabbitmq.sh) per test file, stopped on every exit path.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './docker-sandbox.js';

const SCRIPT = join(REPO, 'scripts/rabbitmq.sh');

export interface RabbitmqBroker {
  /** `amqp://user:password@127.0.0.1:port/`: the broker's own generated credentials, on loopback. */
  url: string;
  port: number;
  /** With `tls`: `amqps://…@127.0.0.1:port/` (a certificate for 127.0.0.1 signed by `caFile`). */
  tlsUrl?: string;
  /** With `tls`: the PEM CA that signed the broker's certificate. */
  caFile?: string;
  /** Its state folder (settings, data, logs). */
  dir: string;
  /** The same credentials and port on another address the broker listens on (the `extraBindAddress`). */
  urlFor(host: string): string;
  /** Stops the broker, keeping its data (durable queues, persistent messages) for `start`. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data; resolves once it accepts AMQP. */
  start(): Promise<void>;
  /** Stops it and deletes its folder; safe to call twice. */
  close(): Promise<void>;
}

export interface RabbitmqBrokerOptions {
  /** One more address to listen on besides 127.0.0.1 (e.g. the sandbox bridge gateway). */
  extraBindAddress?: string;
  /** Also an amqps listener on 127.0.0.1 (`tlsUrl`, `caFile`). */
  tls?: boolean;
  timeoutSeconds?: number;
}

// Brokers still open in this process, stopped synchronously if it exits or is signalled before `close`.
const open = new Set<string>();

function downSync(dir: string): void {
  try {
    execFileSync('bash', [SCRIPT, 'down'], { env: { ...process.env, ANWEDDOL_RABBITMQ_DIR: dir }, stdio: 'ignore', timeout: 60_000 });
  } catch {
    // best effort on the way out; the script's owner watcher is the last resort
  }
}

let exitHooksInstalled = false;
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', () => {
    for (const dir of open) downSync(dir);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const dir of open) downSync(dir);
      open.clear();
      process.kill(process.pid, signal);
    });
  }
}

function run(command: 'up' | 'stop' | 'down', env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SCRIPT, command], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`scripts/rabbitmq.sh ${command} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** Starts a private broker in a fresh folder; resolves once it accepts AMQP (about 6 s on an idle machine). */
export async function startRabbitmqBroker(options: RabbitmqBrokerOptions = {}): Promise<RabbitmqBroker> {
  installExitHooks();
  const dir = mkdtempSync(join(tmpdir(), 'anw-rabbitmq-'));
  const env: NodeJS.ProcessEnv = {
    ANWEDDOL_RABBITMQ_DIR: dir,
    ANWEDDOL_RABBITMQ_OWNER_PID: String(process.pid),
    ANWEDDOL_RABBITMQ_TIMEOUT: String(options.timeoutSeconds ?? 90),
    ANWEDDOL_RABBITMQ_EXTRA_BIND: options.extraBindAddress ?? '',
    ANWEDDOL_RABBITMQ_TLS: options.tls === true ? '1' : '',
  };
  open.add(dir);
  let url: string;
  let stdout: string;
  try {
    stdout = await run('up', env);
    const printed = /^ANWEDDOL_RABBITMQ_URL=(\S+)$/m.exec(stdout)?.[1];
    if (printed === undefined) throw new Error(`scripts/rabbitmq.sh up printed no URL: ${stdout}`);
    url = printed;
  } catch (error) {
    open.delete(dir);
    downSync(dir);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const parsed = new URL(url);
  let closed = false;
  return {
    url,
    port: Number(parsed.port),
    tlsUrl: /^ANWEDDOL_RABBITMQ_TLS_URL=(\S+)$/m.exec(stdout)?.[1],
    caFile: /^ANWEDDOL_RABBITMQ_CA_FILE=(\S+)$/m.exec(stdout)?.[1],
    dir,
    urlFor: (host) => {
      const other = new URL(url);
      other.hostname = host.includes(':') ? `[${host}]` : host;
      return other.toString();
    },
    stop: async () => {
      await run('stop', env);
    },
    start: async () => {
      await run('up', env);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        await run('down', env);
      } finally {
        open.delete(dir);
      }
    },
  };
}
