// bench/create.ts --pool: the warm pool table of README "Warm pool" (STAT reference, warm CREATE alone and in a burst, cold CREATE vs bare docker run, 1 CREATE/s with pool 4).
import { execFileSync } from 'node:child_process';
import type { AnweddolTcpClient } from '../src/client/tcp-client.js';
import { dockerHost } from '../test/helpers/docker-sandbox.js';
import { buildDist, fmt, percentile, timedCreate, timedDestroy, type Created } from './daemon-harness.js';
import {
  baselineRun,
  benchLimitsNote,
  checkDeadline,
  createCounts,
  MEMORY_MIB,
  ON_BENCH_NETWORK,
  p50p99,
  POOL_BENCH_LIMIT,
  poolFull,
  removeBaselineContainers,
  run,
  SEQUENTIAL,
  VCPUS,
  verdict,
  withPoolDaemon,
} from './create-common.js';

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
export async function runPoolCases(): Promise<void> {
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
