// What bench/create.ts's cases share: options, limits, the bare `docker run` baseline, and a daemon with a warm pool for the time of a case.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AnweddolTcpClient } from '../src/client/tcp-client.js';
import { SshWaitStrategy } from '../src/virtualization/docker/ssh-wait-strategy.js';
import { SANDBOX_IMAGE } from '../test/helpers/docker-sandbox.js';
import { fmt, freePort, percentile, reportLeftovers, startDaemon, stopDaemon, type BenchDaemon } from './daemon-harness.js';

export const run = promisify(execFile);
export const args = process.argv.slice(2);
export const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
export const SEQUENTIAL = option('--sequential', 20);
export const CONCURRENT = option('--concurrent', 10);
export const ALIVE = option('--alive', 50);
export const MEMORY_MIB = 64;
// CPU quota of every sandbox and of the baseline: the product default (container.container_vcpus: 2) unless
// given; under a small quota the in-sandbox login setup is CFS-throttled and dominates CREATE's overhead.
export const VCPUS = option('--vcpus', 2);
// The daemon's sandbox network, which the baseline containers join too.
export const BENCH_NETWORK = 'anweddol-bench-sandboxes';
export const DEADLINE = Date.now() + 20 * 60_000;
// The product default of container.pids_limit, kept in every bench daemon.
export const PIDS_LIMIT = 256;
// A loaded shared dockerd can take longer than the default 30 s to bring sshd up; a timeout would end the run.
export const READY_TIMEOUT_SECONDS = 180;
// A cold CREATE's whole request, with room for that readiness wait.
export const CLIENT_TIMEOUT_MS = (READY_TIMEOUT_SECONDS + 60) * 1000;

/**
 * RLIMIT_NPROC is counted per UID across all sandboxes, so the daemon refuses to start unless container.nproc_limit is
 * above max_allowed_running_container_domains × pids_limit; the bench raises nproc_limit to fit its larger limit.
 */
export function nprocLimitFor(maxSandboxes: number): number {
  return maxSandboxes * PIDS_LIMIT + 1;
}

export function benchLimitsNote(maxSandboxes: number): string {
  return (
    `bench daemon: max_allowed_running_container_domains ${maxSandboxes}, pids_limit ${PIDS_LIMIT}, so nproc_limit ${nprocLimitFor(maxSandboxes)} ` +
    `(the start check wants it above their product); ready_timeout ${READY_TIMEOUT_SECONDS} s`
  );
}

export function checkDeadline(): void {
  if (Date.now() > DEADLINE) throw new Error('benchmark exceeded its 20 minute bound');
}

/** Baseline containers a failed run left (e.g. created but not started). */
export function removeBaselineContainers(env: NodeJS.ProcessEnv): void {
  const leftovers = execFileSync('docker', ['ps', '-aq', '--filter', 'label=anweddol.bench=baseline'], { env, encoding: 'utf8' }).trim();
  if (leftovers !== '') execFileSync('docker', ['rm', '-f', ...leftovers.split('\n')], { env, stdio: 'ignore' });
}

/** The same image, limits and network as a sandbox, started with the docker CLI, ready when sshd's banner comes back. */
export async function baselineRun(env: NodeJS.ProcessEnv, port: number): Promise<{ ms: number; id: string }> {
  const started = performance.now();
  const { stdout } = await run(
    'docker',
    ['run', '-d', '--network', BENCH_NETWORK, '--memory', `${MEMORY_MIB}m`, '--cpus', String(VCPUS), '--pids-limit', '256',
      '--label', 'anweddol.bench=baseline', '-p', `127.0.0.1:${port}:22`, SANDBOX_IMAGE],
    { env },
  );
  await new SshWaitStrategy({ timeoutMs: 30_000, intervalMs: 50 }).waitUntilReady({ host: '127.0.0.1', port });
  return { ms: performance.now() - started, id: stdout.trim() };
}

/** Pool and cold creations so far, from the daemon's own histogram (anweddol_sandbox_create_seconds_count{source}). */
export async function createCounts(metricsPort: number): Promise<{ cold: number; pool: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const count = (source: string) => Number(new RegExp(`^anweddol_sandbox_create_seconds_count\\{source="${source}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { cold: count('cold'), pool: count('pool') };
}

/** Until the pool is full: no fill running, i.e. STAT available = limit − sessions (README "Warm pool"). */
export async function poolFull(client: AnweddolTcpClient, maxSandboxes: number, sessions: number): Promise<void> {
  for (;;) {
    checkDeadline();
    if ((await client.stat()).data.available === maxSandboxes - sessions) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const POOL_BENCH_LIMIT = 25;

export type Sections = Record<string, Record<string, unknown>>;

/** A daemon with this warm pool (limit 25, no per-client limits, its own metrics port, `extra` merged per section) for the time of `body`. */
export async function withPoolDaemon<T>(
  host: string,
  warmPoolSize: number,
  body: (client: AnweddolTcpClient, metricsPort: number, daemon: BenchDaemon) => Promise<T>,
  extra: Sections = {},
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'anweddol-bench-'));
  const metricsPort = await freePort();
  const daemon = await startDaemon(dir, host, {
    ...extra,
    server: { rsa_key_size: 2048, timeout: 60 },
    container: {
      ...extra.container,
      max_allowed_running_container_domains: POOL_BENCH_LIMIT,
      nproc_limit: nprocLimitFor(POOL_BENCH_LIMIT),
      ready_timeout: READY_TIMEOUT_SECONDS,
      max_per_client: null,
      create_rate: null,
      container_memory: MEMORY_MIB,
      container_vcpus: VCPUS,
      warm_pool_size: warmPoolSize,
      warm_pool_max_age: null,
    },
    port_forwarding: { port_range: [14000, 14999] },
    metrics: { listen_port: metricsPort },
  }).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  try {
    return await body(new AnweddolTcpClient({ host: '127.0.0.1', port: daemon.port, rsaKeyBits: 2048, timeoutMs: CLIENT_TIMEOUT_MS }), metricsPort, daemon);
  } finally {
    await stopDaemon(daemon.child);
    reportLeftovers(host, daemon.databaseFile);
    rmSync(dir, { recursive: true, force: true });
  }
}

// The pool cases' daemons put sandboxes on the bridge the bare baseline runs join (not the swarm cases: theirs is the swarm's).
export const ON_BENCH_NETWORK: Sections = { container: { network_name: BENCH_NETWORK } };

export const p50p99 = (values: number[]) => `p50 ${fmt(percentile(values, 50))}, p99 ${fmt(percentile(values, 99))}`;

/** A target of issue 10 and whether this run met it. */
export function verdict(met: boolean): string {
  return met ? 'PASS' : 'MISS';
}

