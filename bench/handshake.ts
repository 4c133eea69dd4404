// Benchmark: STAT round trips through the full key exchange at concurrency 1/16/64, against the machine's RSA-4096 ceiling.
// Run: node --import tsx bench/handshake.ts [--workers N] [--nice N] [--seconds S] [--server-node-flags "--max-semi-space-size=4"]
import { fork, type ChildProcess } from 'node:child_process';
import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnweddolTcpClient, generateClientKeyPair } from '../src/client/tcp-client.js';
import { RsaKeyPair } from '../src/crypto/rsa-key-pair.js';
import { AnweddolServer } from '../src/server/anweddol-server.js';

interface ServerReady {
  type: 'ready';
  port: number;
  rsaWorkers: number;
}
interface ServerSample {
  type: 'sample';
  /** Process CPU time (all threads) in microseconds, cumulative. */
  cpuMicros: number;
  rss: number;
  heapTotal: number;
  external: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};

if (args.includes('--server')) await runServer();
else await runBenchmark();

/** Child process: the server alone, so client CPU and memory do not pollute its figures. */
async function runServer(): Promise<void> {
  const workers = flag('--workers');
  const keyPair = await RsaKeyPair.generate(4096);
  const server = new AnweddolServer({
    rsaKeyPair: keyPair,
    bindAddress: '127.0.0.1',
    listenPort: 0,
    maxConnections: 1024,
    ...(workers === undefined ? {} : { rsaWorkers: Number(workers) }),
    ...(flag('--nice') === undefined ? {} : { rsaWorkerNiceness: Number(flag('--nice')) }),
  });
  await server.start();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  process.on('message', (message: { type: string }) => {
    if (message.type === 'sample') {
      const cpu = process.cpuUsage();
      const sample: ServerSample = { type: 'sample', cpuMicros: cpu.user + cpu.system, ...memory(), loopDelayP99Ms: loop.percentile(99) / 1e6, loopDelayMaxMs: loop.max / 1e6 };
      loop.reset();
      process.send!(sample);
    } else if (message.type === 'stop') {
      void server.stop().then(() => process.exit(0));
    }
  });
  process.send!({ type: 'ready', port: server.tcpAddress()!.port, rsaWorkers: server.options.rsaWorkers } satisfies ServerReady);
}

/**
 * The server child runs this file bundled to plain JS (as from dist/), so the TypeScript loader's
 * own memory is not counted in the server's RSS. Dependencies stay external (resolved from node_modules).
 */
async function bundleServer(): Promise<string> {
  const self = fileURLToPath(import.meta.url);
  const outfile = join(dirname(self), '..', 'node_modules', '.cache', 'anweddol-bench', 'handshake-server.mjs');
  mkdirSync(dirname(outfile), { recursive: true });
  const { build } = await import('esbuild'); // parent only: keeps esbuild out of the server's memory
  await build({ entryPoints: [self], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' });
  return outfile;
}

function memory(): { rss: number; heapTotal: number; external: number } {
  const { rss, heapTotal, external } = process.memoryUsage();
  return { rss, heapTotal, external };
}

function rsaCeiling(seconds: number): number {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
  const options = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' };
  const ciphertext = publicEncrypt({ key: publicKey, ...options }, randomBytes(48));
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const start = performance.now();
  while (performance.now() < end) {
    privateDecrypt({ key: privateKey, ...options }, ciphertext);
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function runBenchmark(): Promise<void> {
  const seconds = Number(flag('--seconds') ?? 8);
  console.log(`cores: ${availableParallelism()}, node ${process.version}`);
  const ceilingBefore = rsaCeiling(2);
  console.log(`ceiling: RSA-4096 OAEP private decryptions on one core: ${ceilingBefore.toFixed(0)}/s`);

  const childArgs = ['--server', ...['--workers', '--nice'].flatMap((name) => (flag(name) === undefined ? [] : [name, flag(name)!]))];
  const serverEntry = await bundleServer();
  // --server-node-flags "…" passes V8/Node flags to the server child only (e.g. --max-semi-space-size=4; "" for none).
  // Default: the flags the anweddol-server executable runs with (its shebang), so the figures are the daemon's.
  const serverNodeFlags = (flag('--server-node-flags') ?? '--max-semi-space-size=1').split(' ').filter(Boolean);
  const child: ChildProcess = fork(serverEntry, childArgs, { execArgv: serverNodeFlags, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const samples: ServerSample[] = [];
  const ready = await new Promise<ServerReady>((resolve, reject) => {
    child.on('message', (message: ServerReady | ServerSample) => {
      if (message.type === 'ready') resolve(message);
      else samples.push(message);
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
  console.log(`server: child pid ${child.pid}, RSA-4096 key, ${ready.rsaWorkers} decryption worker(s), node flags: ${serverNodeFlags.join(' ') || '(none)'}`);
  const sampler = setInterval(() => child.send({ type: 'sample' }), 250);

  const keyPair = await generateClientKeyPair(2048);
  const client = new AnweddolTcpClient({ host: '127.0.0.1', port: ready.port, keyPair, timeoutMs: 10_000 });
  for (let i = 0; i < 5; i++) await client.stat(); // warm-up

  const results = new Map<number, { rps: number; p50: number; p99: number; errors: number; loopP99: number; loopMax: number; rssMax: number; heapMax: number; externalMax: number }>();
  for (const concurrency of [1, 16, 64]) {
    const latencies: number[] = [];
    let errors = 0;
    samples.length = 0;
    const started = performance.now();
    const clientCpuStart = process.cpuUsage();
    const end = started + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          try {
            const response = await client.stat();
            if (response.message !== 'OK') errors++;
            else latencies.push(performance.now() - t0);
          } catch {
            errors++;
          }
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const clientCpu = process.cpuUsage(clientCpuStart);
    const clientCores = (clientCpu.user + clientCpu.system) / 1e6 / elapsed;
    const serverCores = samples.length < 2 ? NaN : (samples.at(-1)!.cpuMicros - samples[0]!.cpuMicros) / 1e6 / ((samples.length - 1) * 0.25);
    latencies.sort((a, b) => a - b);
    const result = {
      rps: latencies.length / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      errors,
      loopP99: Math.max(0, ...samples.map((s) => s.loopDelayP99Ms)),
      loopMax: Math.max(0, ...samples.map((s) => s.loopDelayMaxMs)),
      rssMax: Math.max(0, ...samples.map((s) => s.rss)),
      heapMax: Math.max(0, ...samples.map((s) => s.heapTotal)),
      externalMax: Math.max(0, ...samples.map((s) => s.external)),
    };
    results.set(concurrency, result);
    console.log(
      `concurrency ${String(concurrency).padStart(2)}: ${result.rps.toFixed(1)} req/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, ` +
        `errors ${errors}, server event-loop delay p99 ${result.loopP99.toFixed(1)} ms (max ${result.loopMax.toFixed(1)}), server RSS max ${(result.rssMax / 2 ** 20).toFixed(1)} MB ` +
        `(main heap ${(result.heapMax / 2 ** 20).toFixed(1)}, external ${(result.externalMax / 2 ** 20).toFixed(1)}), ` +
        `CPU cores used: server ${serverCores.toFixed(2)} + client ${clientCores.toFixed(2)} of ${availableParallelism()}`,
    );
  }
  clearInterval(sampler);
  child.send({ type: 'stop' });
  await new Promise((resolve) => child.once('exit', resolve));

  // The machine may be shared: measure the ceiling again and compare against the mean of both.
  const ceilingAfter = rsaCeiling(2);
  const ceiling = (ceilingBefore + ceilingAfter) / 2;
  console.log(`ceiling again after the run: ${ceilingAfter.toFixed(0)}/s (mean ${ceiling.toFixed(0)}/s)`);
  const c16 = results.get(16)!;
  const c64 = results.get(64)!;
  const rssMax = Math.max(...[...results.values()].map((r) => r.rssMax));
  const ratio = c16.rps / ceiling;
  console.log('--- summary ---');
  console.log(`throughput@16 / one-core RSA-4096 ceiling: ${(ratio * 100).toFixed(0)} % (target ≥ 80 %) ${ratio >= 0.8 ? 'MET' : 'MISSED'}`);
  console.log(`p99@64: ${c64.p99.toFixed(1)} ms (target < 500 ms) ${c64.p99 < 500 ? 'MET' : 'MISSED'}`);
  console.log(`server RSS max: ${(rssMax / 2 ** 20).toFixed(1)} MB (target < 100 MB) ${rssMax < 100 * 2 ** 20 ? 'MET' : 'MISSED'}`);
}
