// Benchmark: CREATE→credentials latency through the real daemon (sequential, concurrent), DESTROY, against a bare
// `docker run -d` + SSH banner baseline of the same image; then 50 sandboxes alive at once and the daemon's RSS.
// Run: node --import tsx bench/create.ts [--sequential N] [--concurrent N] [--alive N] [--vcpus X]
//  or: node --import tsx bench/create.ts --pool [--sequential N]: the warm pool table of README "Warm pool" (bench/create-pool.ts).
//  or: node --import tsx bench/create.ts --swarm [--sequential N]: cold and warm CREATE on the private engine next to
//      scripts/swarm.sh's two-node swarm (brought up and down by the bench), then SSH throughput to a sandbox on the
//      worker through the daemon's port forwarder next to the node's published port, unbounded and with the sandbox's
//      sending side capped at --link Mbit/s (default 1000): README "Running on a swarm" (bench/create-swarm.ts).
// The daemon is the real CLI (`dist/src/cli/main.js start --foreground`, rebuilt first) on 127.0.0.1, talking to the
// project's private dockerd; every sandbox it creates is destroyed at the end, on every exit path.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnweddolTcpClient } from '../src/client/tcp-client.js';
import { dockerHost } from '../test/helpers/docker-sandbox.js';
import { buildDist, fmt, percentile, reportLeftovers, rssMiB, startDaemon, stopDaemon, timedCreate, timedDestroy, type Created } from './daemon-harness.js';
import {
  ALIVE,
  args,
  baselineRun,
  BENCH_NETWORK,
  benchLimitsNote,
  checkDeadline,
  CONCURRENT,
  MEMORY_MIB,
  nprocLimitFor,
  READY_TIMEOUT_SECONDS,
  removeBaselineContainers,
  run,
  SEQUENTIAL,
  VCPUS,
} from './create-common.js';
import { runPoolCases } from './create-pool.js';
import { runSwarmCases } from './create-swarm.js';

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


if (args.includes('--pool')) await runPoolCases();
else if (args.includes('--swarm')) await runSwarmCases();
else await main();
