// Benchmark: what the sandboxes' seccomp profile (container.seccomp_profile, no btrfs ioctls) costs: cold CREATE latency
// through two real daemons, one with the derived profile and one with Docker's built-in (null), CREATEs alternated so load
// drift hits both alike; then ns per syscall in a container on a terminal (1e5 ioctl TCGETS, 1e5 getppid), with and without.
// Run: node --import tsx bench/seccomp.ts [--creates N] [--rounds R]   (the project's private dockerd; every sandbox is destroyed)
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AnweddolTcpClient } from '../src/client/tcp-client.js';
import { DEFAULT_SECCOMP_PROFILE } from '../src/daemon/config/config-schema.js';
import { loadSandboxSeccompProfile } from '../src/daemon/seccomp-profile-file.js';
import { dockerHost, SANDBOX_IMAGE } from '../test/helpers/docker-sandbox.js';
import { buildDist, fmt, freePort, percentile, reportLeftovers, startDaemon, stopDaemon, timedCreate, timedDestroy, type BenchDaemon } from './daemon-harness.js';

const run = promisify(execFile);
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const CREATES = option('--creates', 10);
const ROUNDS = option('--rounds', 3);
const CALLS = 100_000;
/** ns per call of each loop, printed by the container as `ioctl <ns> getppid <ns>`; stdout is the terminal (-t). */
const SYSCALL_LOOPS = `
import fcntl, os, termios, time
n = ${CALLS}
t = time.perf_counter()
for _ in range(n): fcntl.ioctl(1, termios.TCGETS, bytes(60))
ioctl = (time.perf_counter() - t) / n * 1e9
t = time.perf_counter()
for _ in range(n): os.getppid()
print('ioctl %.0f getppid %.0f' % (ioctl, (time.perf_counter() - t) / n * 1e9))
`;

interface Variant {
  name: string;
  profile: string | null;
  daemon?: BenchDaemon;
  client?: AnweddolTcpClient;
  dir?: string;
  creates: number[];
}

const p50p90 = (values: number[]) => `p50 ${fmt(percentile(values, 50))}, p90 ${fmt(percentile(values, 90))}`;

async function createLatency(host: string, variants: Variant[]): Promise<void> {
  for (const variant of variants) {
    variant.dir = mkdtempSync(join(tmpdir(), 'anweddol-bench-seccomp-'));
    variant.daemon = await startDaemon(variant.dir, host, {
      server: { rsa_key_size: 2048, timeout: 60 },
      container: { seccomp_profile: variant.profile, max_per_client: null, create_rate: null, container_memory: 256, ready_timeout: 180 },
      // Two daemons at once: each its own metrics port.
      metrics: { listen_port: await freePort() },
    });
    variant.client = new AnweddolTcpClient({ host: '127.0.0.1', port: variant.daemon.port, rsaKeyBits: 2048, timeoutMs: 240_000 });
    // Warm-up: network created, client key generated.
    await timedDestroy(variant.client, (await timedCreate(variant.client)).data);
  }
  for (let i = 0; i < CREATES; i++) {
    for (const variant of variants) {
      const { ms, data } = await timedCreate(variant.client!);
      variant.creates.push(ms);
      await timedDestroy(variant.client!, data);
    }
  }
}

async function syscallCost(env: NodeJS.ProcessEnv, profileFile: string): Promise<void> {
  const rows: Record<string, { ioctl: number[]; getppid: number[] }> = { derived: { ioctl: [], getppid: [] }, builtin: { ioctl: [], getppid: [] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, extra] of [['derived', ['--security-opt', `seccomp=${profileFile}`]], ['builtin', []]] as const) {
      const { stdout } = await run('docker', ['run', '--rm', '-t', ...extra, '--entrypoint', 'python3', SANDBOX_IMAGE, '-c', SYSCALL_LOOPS], { env });
      const [, ioctl, getppid] = /ioctl (\d+) getppid (\d+)/.exec(stdout) ?? [];
      if (ioctl === undefined) throw new Error(`unexpected output: ${stdout}`);
      rows[name]!.ioctl.push(Number(ioctl));
      rows[name]!.getppid.push(Number(getppid));
    }
  }
  for (const [name, { ioctl, getppid }] of Object.entries(rows)) {
    console.log(`${name} profile: ioctl TCGETS median ${percentile(ioctl, 50)} ns/call (${ioctl.join(', ')}); getppid median ${percentile(getppid, 50)} ns/call (${getppid.join(', ')})`);
  }
}

async function main(): Promise<void> {
  const host = dockerHost();
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_API_VERSION: '1.41' };
  buildDist();
  const variants: Variant[] = [
    { name: `derived profile (container.seccomp_profile: ${DEFAULT_SECCOMP_PROFILE})`, profile: DEFAULT_SECCOMP_PROFILE, creates: [] },
    { name: "Docker's built-in profile (container.seccomp_profile: null)", profile: null, creates: [] },
  ];
  const scratch = mkdtempSync(join(tmpdir(), 'anweddol-bench-seccomp-'));
  try {
    console.error(`bench: ${CREATES} cold CREATE/DESTROY per profile, alternated`);
    await createLatency(host, variants);
    for (const variant of variants) console.log(`${variant.name}: cold CREATE ${p50p90(variant.creates)} (n=${variant.creates.length})`);
    const profileFile = join(scratch, 'sandbox-seccomp.json');
    writeFileSync(profileFile, loadSandboxSeccompProfile({ container: { seccomp_profile: DEFAULT_SECCOMP_PROFILE } } as Parameters<typeof loadSandboxSeccompProfile>[0])!);
    console.error(`bench: ${ROUNDS} rounds of ${CALLS} ioctl TCGETS and getppid per profile`);
    await syscallCost(env, profileFile);
  } finally {
    for (const variant of variants) {
      if (variant.daemon) {
        await stopDaemon(variant.daemon.child);
        reportLeftovers(host, variant.daemon.databaseFile);
      }
      if (variant.dir) rmSync(variant.dir, { recursive: true, force: true });
    }
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
