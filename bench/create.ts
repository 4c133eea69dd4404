// Benchmark: CREATE→credentials latency through the real daemon (sequential, concurrent), DESTROY, against a bare
// `docker run -d` + SSH banner baseline of the same image; then 50 sandboxes alive at once and the daemon's RSS.
// Run: node --import tsx bench/create.ts [--sequential N] [--concurrent N] [--alive N] [--vcpus X]
//  or: node --import tsx bench/create.ts --pool [--sequential N]: the warm pool table of README "Warm pool" (runPoolCases).
//  or: node --import tsx bench/create.ts --swarm [--sequential N]: cold and warm CREATE on the private engine next to
//      scripts/swarm.sh's two-node swarm (brought up and down by the bench), then SSH throughput to a sandbox on the
//      worker through the daemon's port forwarder next to the node's published port, unbounded and with the sandbox's
//      sending side capped at --link Mbit/s (default 1000): README "Running on a swarm" (runSwarmCases, swarmForwarding).
// The daemon is the real CLI (`dist/src/cli/main.js start --foreground`, rebuilt first) on 127.0.0.1, talking to the
// project's private dockerd; every sandbox it creates is destroyed at the end, on every exit path.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AnweddolTcpClient } from '../src/client/tcp-client.js';
import { SshWaitStrategy } from '../src/virtualization/docker/ssh-wait-strategy.js';
import { dockerHost, SANDBOX_IMAGE } from '../test/helpers/docker-sandbox.js';
import { managerHostname, MANAGER_HOST, pushSandboxImage, swarmDown, swarmUp, workerCommand, WORKER_ADDRESS, WORKER_HOST, WORKER_HOSTNAME } from '../test/helpers/swarm-harness.js';
import { buildDist, fmt, freePort, percentile, reportLeftovers, rssMiB, startDaemon, stopDaemon, timedCreate, timedDestroy, type BenchDaemon, type Created } from './daemon-harness.js';
import { measurePaths, printFigures, shapeContainerEgress, type ThroughputPath } from './ssh-throughput.js';

const run = promisify(execFile);
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const SEQUENTIAL = option('--sequential', 20);
const CONCURRENT = option('--concurrent', 10);
const ALIVE = option('--alive', 50);
const MEMORY_MIB = 64;
// CPU quota of every sandbox and of the baseline: the product default (container.container_vcpus: 2) unless
// given; under a small quota the in-sandbox login setup is CFS-throttled and dominates CREATE's overhead.
const VCPUS = option('--vcpus', 2);
// The daemon's sandbox network, which the baseline containers join too.
const BENCH_NETWORK = 'anweddol-bench-sandboxes';
const DEADLINE = Date.now() + 20 * 60_000;
// The product default of container.pids_limit, kept in every bench daemon.
const PIDS_LIMIT = 256;
// A loaded shared dockerd can take longer than the default 30 s to bring sshd up; a timeout would end the run.
const READY_TIMEOUT_SECONDS = 180;
// A cold CREATE's whole request, with room for that readiness wait.
const CLIENT_TIMEOUT_MS = (READY_TIMEOUT_SECONDS + 60) * 1000;

/**
 * RLIMIT_NPROC is counted per UID across all sandboxes, so the daemon refuses to start unless container.nproc_limit is
 * above max_allowed_running_container_domains × pids_limit; the bench raises nproc_limit to fit its larger limit.
 */
function nprocLimitFor(maxSandboxes: number): number {
  return maxSandboxes * PIDS_LIMIT + 1;
}

function benchLimitsNote(maxSandboxes: number): string {
  return (
    `bench daemon: max_allowed_running_container_domains ${maxSandboxes}, pids_limit ${PIDS_LIMIT}, so nproc_limit ${nprocLimitFor(maxSandboxes)} ` +
    `(the start check wants it above their product); ready_timeout ${READY_TIMEOUT_SECONDS} s`
  );
}

function checkDeadline(): void {
  if (Date.now() > DEADLINE) throw new Error('benchmark exceeded its 20 minute bound');
}

/** Baseline containers a failed run left (e.g. created but not started). */
function removeBaselineContainers(env: NodeJS.ProcessEnv): void {
  const leftovers = execFileSync('docker', ['ps', '-aq', '--filter', 'label=anweddol.bench=baseline'], { env, encoding: 'utf8' }).trim();
  if (leftovers !== '') execFileSync('docker', ['rm', '-f', ...leftovers.split('\n')], { env, stdio: 'ignore' });
}

/** The same image, limits and network as a sandbox, started with the docker CLI, ready when sshd's banner comes back. */
async function baselineRun(env: NodeJS.ProcessEnv, port: number): Promise<{ ms: number; id: string }> {
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

async function main(): Promise<void> {
  const host = dockerHost();
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_API_VERSION: '1.41' };
  buildDist();
  const dir = mkdtempSync(join(tmpdir(), 'anweddol-bench-'));
  const maxSandboxes = Math.max(ALIVE, CONCURRENT) + 5;
  console.log(benchLimitsNote(maxSandboxes));
  const { child, port, databaseFile } = await startDaemon(dir, host, {
    server: { rsa_key_size: 2048, timeout: 60 },
    container: {
      max_allowed_running_container_domains: maxSandboxes,
      nproc_limit: nprocLimitFor(maxSandboxes),
      ready_timeout: READY_TIMEOUT_SECONDS,
      // Cold creations measured here: no warm pool (the --pool cases measure it).
      warm_pool_size: 0,
      // Every CREATE here comes from one address: the per-client limits would cap the benchmark itself.
      max_per_client: null,
      create_rate: null,
      container_memory: MEMORY_MIB,
      container_vcpus: VCPUS,
      network_name: BENCH_NETWORK,
    },
    port_forwarding: { port_range: [14000, 14999] },
  });
  const client = new AnweddolTcpClient({ host: '127.0.0.1', port, rsaKeyBits: 2048, timeoutMs: 120_000 });
  const alive: Created[] = [];
  try {
    // Warm-up: image layers in the page cache, network created, client key generated.
    const warm = await timedCreate(client);
    await timedDestroy(client, warm.data);
    await baselineRun(env, 15900).then((b) => run('docker', ['rm', '-f', b.id], { env }));

    console.log(`sandbox limits: ${VCPUS} vCPU, ${MEMORY_MIB} MiB (daemon and baseline alike)`);
    console.error(`bench: ${SEQUENTIAL} sequential CREATE/DESTROY, interleaved with ${SEQUENTIAL} baseline runs`);
    const sequential: number[] = [];
    const destroys: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      checkDeadline();
      const created = await timedCreate(client);
      sequential.push(created.ms);
      destroys.push(await timedDestroy(client, created.data));
      const b = await baselineRun(env, 15900 + (i % 50));
      baseline.push(b.ms);
      await run('docker', ['rm', '-f', b.id], { env });
    }

    console.error(`bench: ${CONCURRENT} concurrent CREATE`);
    const concurrentResults = await Promise.all(Array.from({ length: CONCURRENT }, () => timedCreate(client)));
    const concurrent = concurrentResults.map((r) => r.ms);
    for (const r of concurrentResults) await timedDestroy(client, r.data);
    const concurrentBaselineRuns = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => baselineRun(env, 15950 + i)));
    const concurrentBaseline = concurrentBaselineRuns.map((b) => b.ms);
    await run('docker', ['rm', '-f', ...concurrentBaselineRuns.map((b) => b.id)], { env });

    console.error(`bench: ${ALIVE} sandboxes alive at once (${MEMORY_MIB} MiB each)`);
    const rssBefore = rssMiB(child.pid!);
    const aliveStarted = performance.now();
    for (let i = 0; i < ALIVE; i += 5) {
      checkDeadline();
      const batch = await Promise.all(Array.from({ length: Math.min(5, ALIVE - i) }, () => timedCreate(client)));
      alive.push(...batch.map((b) => b.data));
    }
    const aliveMs = performance.now() - aliveStarted;
    const stat = await client.stat();
    const rssAlive = rssMiB(child.pid!);
    const names = new Set(execFileSync('docker', ['ps', '--format', '{{.Names}}'], { env, encoding: 'utf8' }).trim().split('\n'));
    const running = alive.filter((d) => names.has(`anweddol-${d.container_uuid}`)).length;
    const destroyStarted = performance.now();
    while (alive.length > 0) await Promise.all(alive.splice(0, 10).map((d) => timedDestroy(client, d)));
    const destroyAllMs = performance.now() - destroyStarted;
    const rssAfter = rssMiB(child.pid!);

    const ratio = percentile(sequential, 50) / percentile(baseline, 50);
    const lines = [
      `CREATE→credentials, ${SEQUENTIAL} sequential: p50 ${fmt(percentile(sequential, 50))}, p95 ${fmt(percentile(sequential, 95))}`,
      `CREATE→credentials, ${CONCURRENT} concurrent:  p50 ${fmt(percentile(concurrent, 50))}, p95 ${fmt(percentile(concurrent, 95))}`,
      `baseline docker run -d + SSH banner, ${CONCURRENT} concurrent: p50 ${fmt(percentile(concurrentBaseline, 50))}, p95 ${fmt(percentile(concurrentBaseline, 95))}`,
      `DESTROY: p50 ${fmt(percentile(destroys, 50))}, p95 ${fmt(percentile(destroys, 95))}`,
      `baseline docker run -d + SSH banner, ${SEQUENTIAL} sequential: p50 ${fmt(percentile(baseline, 50))}, p95 ${fmt(percentile(baseline, 95))}`,
      `ratio CREATE p50 / baseline p50: ${ratio.toFixed(2)} (target ≤ 1.25)`,
      `${ALIVE} alive: created in ${(aliveMs / 1000).toFixed(1)} s (batches of 5), STAT available=${JSON.stringify((stat.data as { available: unknown }).available)}, running containers ${running}/${ALIVE}`,
      `daemon RSS: ${rssBefore.rss.toFixed(0)} MiB before, ${rssAlive.rss.toFixed(0)} MiB with ${ALIVE} alive, ${rssAfter.rss.toFixed(0)} MiB after; peak ${rssAfter.hwm.toFixed(0)} MiB (target < 150 MB)`,
      `destroyed all ${ALIVE} in ${(destroyAllMs / 1000).toFixed(1)} s`,
    ];
    console.log(lines.join('\n'));
  } finally {
    for (const d of alive) await client.destroy(d.container_uuid, d.client_token).catch(() => {});
    await stopDaemon(child);
    reportLeftovers(host, databaseFile);
    removeBaselineContainers(env);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Pool and cold creations so far, from the daemon's own histogram (anweddol_sandbox_create_seconds_count{source}). */
async function createCounts(metricsPort: number): Promise<{ cold: number; pool: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const count = (source: string) => Number(new RegExp(`^anweddol_sandbox_create_seconds_count\\{source="${source}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { cold: count('cold'), pool: count('pool') };
}

/** Until the pool is full: no fill running, i.e. STAT available = limit − sessions (README "Warm pool"). */
async function poolFull(client: AnweddolTcpClient, maxSandboxes: number, sessions: number): Promise<void> {
  for (;;) {
    checkDeadline();
    if ((await client.stat()).data.available === maxSandboxes - sessions) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const POOL_BENCH_LIMIT = 25;

type Sections = Record<string, Record<string, unknown>>;

/** A daemon with this warm pool (limit 25, no per-client limits, its own metrics port, `extra` merged per section) for the time of `body`. */
async function withPoolDaemon<T>(
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
const ON_BENCH_NETWORK: Sections = { container: { network_name: BENCH_NETWORK } };

const p50p99 = (values: number[]) => `p50 ${fmt(percentile(values, 50))}, p99 ${fmt(percentile(values, 99))}`;

/** A target of issue 10 and whether this run met it. */
function verdict(met: boolean): string {
  return met ? 'PASS' : 'MISS';
}

/** STAT and warm CREATE alternately, c=1, same client and daemon: both a fresh TCP connection, full key exchange, one request. */
async function statAndWarmCreate(client: AnweddolTcpClient, rounds: number): Promise<{ stat: number[]; warm: number[]; made: Created[] }> {
  for (let i = 0; i < 5; i++) await client.stat(); // warm-up: JIT, decrypt workers
  const stat: number[] = [];
  const warm: number[] = [];
  const made: Created[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await client.stat();
    stat.push(performance.now() - started);
    const created = await timedCreate(client);
    warm.push(created.ms);
    made.push(created.data);
  }
  return { stat, warm, made };
}

/** The table of issue 10: STAT reference, warm CREATE alone and in a burst of 20, cold CREATE vs bare docker run, 1 CREATE/s with pool 4. */
async function runPoolCases(): Promise<void> {
  const host = dockerHost();
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_API_VERSION: '1.41' };
  const began = performance.now();
  buildDist();
  // Each case prints as soon as it is measured: a later failure does not lose the earlier figures.
  console.log(`sandbox limits: ${VCPUS} vCPU, ${MEMORY_MIB} MiB; load before: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
  console.log(benchLimitsNote(POOL_BENCH_LIMIT));
  const { cold, bare } = await withPoolDaemon(host, 0, async (client) => {
    await timedDestroy(client, (await timedCreate(client)).data); // warm-up: page cache, client key
    const cold: number[] = [];
    const bare: number[] = [];
    try {
      for (let i = 0; i < SEQUENTIAL; i++) {
        checkDeadline();
        const created = await timedCreate(client);
        cold.push(created.ms);
        await timedDestroy(client, created.data);
        const b = await baselineRun(env, 15900 + (i % 50));
        bare.push(b.ms);
        await run('docker', ['rm', '-f', b.id], { env });
      }
    } finally {
      removeBaselineContainers(env);
    }
    return { cold, bare };
  }, ON_BENCH_NETWORK);
  const coldRatio = percentile(cold, 50) / percentile(bare, 50);
  console.log(
    [
      `cold CREATE, pool off (${SEQUENTIAL}): p50 ${fmt(percentile(cold, 50))}`,
      `bare docker run -d + SSH banner (${SEQUENTIAL}, interleaved): p50 ${fmt(percentile(bare, 50))}`,
    ].join('\n'),
  );
  const WARM_ROUNDS = 15;
  const { stat, warm, burst, sources } = await withPoolDaemon(host, 20, async (client, metricsPort) => {
    await poolFull(client, POOL_BENCH_LIMIT, 0);
    const before = await createCounts(metricsPort);
    const { stat, warm, made } = await statAndWarmCreate(client, WARM_ROUNDS);
    await Promise.all(made.map((d) => timedDestroy(client, d)));
    await poolFull(client, POOL_BENCH_LIMIT, 0);
    const results = await Promise.all(Array.from({ length: 20 }, () => timedCreate(client)));
    const after = await createCounts(metricsPort);
    await Promise.all(results.map((r) => timedDestroy(client, r.data)));
    return { stat, warm, burst: results.map((r) => r.ms), sources: { pool: after.pool - before.pool, cold: after.cold - before.cold } };
  }, ON_BENCH_NETWORK);
  const warmRatio = percentile(warm, 50) / percentile(stat, 50);
  const burstP99 = percentile(burst, 99);
  console.log(
    [
      `STAT, c=1 (${WARM_ROUNDS}, alternating with the warm CREATEs, same client): ${p50p99(stat)}  (reference)`,
      `warm CREATE, c=1 (${WARM_ROUNDS}, pool 20): ${p50p99(warm)}`,
      `warm CREATE, 20 concurrent from a pool of 20: ${p50p99(burst)}`,
      `  (${sources.pool} of these ${WARM_ROUNDS + 20} CREATEs came from the pool, ${sources.cold} cold)`,
    ].join('\n'),
  );
  const sustained = await withPoolDaemon(host, 4, async (client, metricsPort) => {
    await poolFull(client, POOL_BENCH_LIMIT, 0);
    const before = await createCounts(metricsPort);
    const times: number[] = [];
    let refused = 0;
    let destroyFailures = 0;
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      const tick = performance.now();
      // Each sandbox lives 5 s, so about 5 are alive at once, as with short jobs.
      pending.push(
        timedCreate(client).then(
          async (c) => {
            times.push(c.ms);
            await new Promise((r) => setTimeout(r, 5000));
            // A DESTROY lost to a loaded dockerd is counted; the daemon's stop destroys that sandbox.
            await timedDestroy(client, c.data).catch(() => void destroyFailures++);
          },
          // Full (destroys slower than 1/s on a loaded dockerd): counted, not fatal.
          () => void refused++,
        ),
      );
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - tick))));
    }
    await Promise.all(pending);
    const after = await createCounts(metricsPort);
    return { times, refused, destroyFailures, cold: after.cold - before.cold, pool: after.pool - before.pool };
  }, ON_BENCH_NETWORK);
  const served = sustained.cold + sustained.pool;
  console.log(
    `1 CREATE/s for 30 s, pool 4, sandboxes living 5 s: ${sustained.cold}/${served} fell back to cold (${((100 * sustained.cold) / Math.max(1, served)).toFixed(0)} %), ${sustained.refused} refused (full), ${sustained.destroyFailures} DESTROY failed, ${p50p99(sustained.times)}`,
  );
  console.log(
    [
      'targets:',
      `  warm CREATE p50 ≤ 3× STAT p50: ${warmRatio.toFixed(1)}×  ${verdict(warmRatio <= 3)}`,
      `  burst of 20 p99 ≤ 250 ms: ${fmt(burstP99)}  ${verdict(burstP99 <= 250)}`,
      `  cold CREATE p50 ≤ 1.15× bare: ${coldRatio.toFixed(2)}×  ${verdict(coldRatio <= 1.15)}`,
      `  1 CREATE/s with pool 4: ${sustained.cold}/${served} cold, p50 ${fmt(percentile(sustained.times, 50))}  (reported)`,
      `load after: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}; took ${((performance.now() - began) / 1000).toFixed(0)} s`,
    ].join('\n'),
  );
}

/** Cold CREATEs one after another (pool off), or warm ones (pool 2, full before each claim); each sandbox destroyed. */
async function createSeries(client: AnweddolTcpClient, count: number, warm: boolean): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    checkDeadline();
    if (warm) await poolFull(client, POOL_BENCH_LIMIT, 0);
    const { ms, data } = await timedCreate(client);
    times.push(ms);
    await timedDestroy(client, data);
  }
  return times;
}

/**
 * A sandbox on the worker: SSH to the port the client is told (the daemon's forwarder on 127.0.0.1) next to the node's
 * own published port (the kernel's DNAT there, no relay), unbounded then with the sandbox's sending side capped.
 */
async function swarmForwarding(client: AnweddolTcpClient, daemon: BenchDaemon): Promise<void> {
  const MIB = option('--mib', 200);
  const ROUNDS = option('--rounds', 3);
  const LINK_MBIT = option('--link', 1000);
  const { data } = await timedCreate(client);
  try {
    const managerEnv = { ...process.env, DOCKER_HOST: MANAGER_HOST, DOCKER_API_VERSION: '1.41' };
    const nodePort = Number(execFileSync('docker', ['service', 'inspect', '-f', '{{(index .Spec.EndpointSpec.Ports 0).PublishedPort}}', `anweddol-${data.container_uuid}`], { env: managerEnv, encoding: 'utf8' }).trim());
    const workerEnv = { ...process.env, DOCKER_HOST: WORKER_HOST, DOCKER_API_VERSION: '1.41' };
    const id = execFileSync('docker', ['ps', '-q', '--filter', `label=anweddol.uuid=${data.container_uuid}`], { env: workerEnv, encoding: 'utf8' }).trim();
    if (id === '') throw new Error('the forwarding case wants its sandbox on the worker (node.role==worker), and it is not there');
    const pid = Number(execFileSync('docker', ['inspect', '-f', '{{.State.Pid}}', id], { env: workerEnv, encoding: 'utf8' }).trim());
    const paths: ThroughputPath[] = [
      { name: `direct (the worker's published port ${WORKER_ADDRESS}:${nodePort})`, host: WORKER_ADDRESS, port: nodePort },
      { name: `forwarder (the port told to the client, 127.0.0.1:${data.container_listen_port})`, host: '127.0.0.1', port: data.container_listen_port, relayPid: daemon.child.pid! },
    ];
    const login = { username: data.container_username, password: data.container_password };
    console.log(`SSH throughput to a sandbox on the worker, ${MIB} MiB of \`head -c\` per run, ${ROUNDS} rounds; unbounded (CPU-bound on two cores):`);
    printFigures(await measurePaths(paths, login, MIB, ROUNDS, '    '));
    if (LINK_MBIT > 0) {
      shapeContainerEgress(pid, LINK_MBIT);
      console.log(`  the sandbox's sending side capped at ${LINK_MBIT} Mbit/s (a token bucket on its eth0):`);
      printFigures(await measurePaths(paths, login, MIB, ROUNDS, '    '));
    }
  } finally {
    await timedDestroy(client, data);
  }
}

/** The rows of README "Running on a swarm": cold and warm CREATE, single engine next to the two-node swarm, then the forwarder's cost. */
async function runSwarmCases(): Promise<void> {
  const count = option('--sequential', 6);
  buildDist();
  console.log(`sandbox limits: ${VCPUS} vCPU, ${MEMORY_MIB} MiB; ${count} CREATEs per row; load before: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
  const managerHost = swarmUp();
  try {
    const image = pushSandboxImage();
    // With the default disk limit, as the single engine: each node caps sandboxes through its btrfs command.
    const swarm: Sections = {
      docker: { mode: 'swarm' },
      container: { image },
      swarm: {
        nodes: {
          [managerHostname()]: { docker: MANAGER_HOST, iptables: ['iptables'], btrfs: ['btrfs'] },
          [WORKER_HOSTNAME]: { docker: WORKER_HOST, iptables: workerCommand('iptables'), btrfs: workerCommand('btrfs') },
        },
      },
    };
    // The single engine is the manager's own dockerd in engine mode: same engine, same load, same image, only the backend differs.
    const backends: Array<[string, string, Sections]> = [
      ['single engine (the manager, docker.mode: engine)', managerHost, { container: { image } }],
      ['swarm (manager + worker, docker.mode: swarm)', managerHost, swarm],
      ['swarm without disk limit (container.disk_limit: null)', managerHost, { ...swarm, container: { image, disk_limit: null } }],
    ];
    for (const [name, host, extra] of backends) {
      const cold = await withPoolDaemon(host, 0, (client) => createSeries(client, count, false), extra);
      const warm = await withPoolDaemon(host, 2, (client) => createSeries(client, count, true), extra);
      console.log(`${name}: cold CREATE ${p50p99(cold)}; warm CREATE ${p50p99(warm)}`);
    }
    await withPoolDaemon(managerHost, 0, (client, _metrics, daemon) => swarmForwarding(client, daemon), {
      ...swarm,
      swarm: { ...swarm.swarm, constraints: ['node.role==worker'] },
    });
  } finally {
    swarmDown();
  }
}

if (args.includes('--pool')) await runPoolCases();
else if (args.includes('--swarm')) await runSwarmCases();
else await main();
