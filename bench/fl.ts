// FL benchmark: the same training in-process and in sandboxes (per-round wall time, overhead ratio),
// accuracy on the held-out 20 % of digits, and FedAvg throughput against this machine's memory copy bandwidth.
// Then the per-round overhead of sandboxes for the built-in trainer and the Python and Node example trainers (--trainer).
// Usage: node --import tsx bench/fl.ts [--rounds 10] [--clients 4] [--image REF] [--no-docker] [--fedavg-only]
import { fileURLToPath } from 'node:url';
import type { TrainingSummary } from '../src/fl/coordinator/fl-coordinator.js';
import type { ClientHost } from '../src/fl/coordinator/client-host.js';
import { InProcessClientHost } from '../src/fl/coordinator/in-process-client-host.js';
import { SandboxClientHost } from '../src/fl/coordinator/sandbox-client-host.js';
import { fedAvg } from '../src/fl/model/fed-avg.js';
import { runTraining } from './fl-training.js';
import { DockerVirtualization } from '../src/virtualization/docker/docker-virtualization.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const ROUNDS = opt('--rounds', 10);
const CLIENTS = opt('--clients', 4);
// A recipe tag (iso/build.sh prints it) pins the image: `latest` moves whenever anyone rebuilds.
const IMAGE = args.includes('--image') ? args[args.indexOf('--image') + 1] : undefined;
const DIGITS = fileURLToPath(new URL('../test/fixtures/digits.csv.gz', import.meta.url));

const TRAINERS: Array<[string, string | undefined]> = [
  ['built-in', undefined],
  ['Python (numpy)', fileURLToPath(new URL('../examples/trainers/python-numpy/', import.meta.url))],
  ['Node', fileURLToPath(new URL('../examples/trainers/node/', import.meta.url))],
];

function train(host: ClientHost, split: string, trainerDir?: string): Promise<TrainingSummary> {
  return runTraining(host, { clients: CLIENTS, rounds: ROUNDS, model: 'logreg', dataset: DIGITS, split, roundTimeoutSeconds: 60, readyTimeoutSeconds: 180, ...(trainerDir ? { trainerDir } : {}) });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function report(label: string, s: TrainingSummary): number[] {
  const times = s.rounds.map((r) => r.duration_ms);
  console.log(`${label}: accuracy ${(s.final_accuracy! * 100).toFixed(2)} % (initial ${(s.initial_accuracy! * 100).toFixed(2)} %), ` +
    `round wall time mean ${mean(times).toFixed(1)} ms, median ${median(times).toFixed(1)} ms; per round: ${times.map((t) => t.toFixed(0)).join(' ')}`);
  return times;
}

function benchFedAvg(): void {
  // FedAvg: 10 clients x 1 M float32 parameters, best of N, against a Float32Array copy of the same bytes.
  const P = 1_000_000;
  const K = 10;
  const updates = Array.from({ length: K }, (_, k) => ({ weights: Float32Array.from({ length: P }, (_, i) => ((i * 31 + k) % 997) / 997), sampleSize: 100 + k }));
  const out = new Float32Array(P);
  const REPS = 60;
  let bestAvg = Infinity;
  for (let r = 0; r < REPS; r++) {
    const t = performance.now();
    fedAvg(updates, out);
    bestAvg = Math.min(bestAvg, performance.now() - t);
  }
  const src = new Float32Array(P * K);
  for (let i = 0; i < src.length; i += 4096) src[i] = i;
  const dst = new Float32Array(P * K);
  let bestCopy = Infinity;
  for (let r = 0; r < REPS; r++) {
    const t = performance.now();
    dst.set(src);
    bestCopy = Math.min(bestCopy, performance.now() - t);
  }
  const bytes = P * K * 4;
  const avgGBs = bytes / (bestAvg / 1000) / 1e9;
  const copyGBs = bytes / (bestCopy / 1000) / 1e9;
  console.log(`FedAvg ${K} clients x ${P} params: ${bestAvg.toFixed(2)} ms (best of ${REPS}) = ${avgGBs.toFixed(2)} GB/s of client weights read`);
  console.log(`memory copy (Float32Array.set, ${(bytes / 1e6).toFixed(0)} MB): ${bestCopy.toFixed(2)} ms = ${copyGBs.toFixed(2)} GB/s`);
  console.log(`FedAvg throughput / copy bandwidth: ${((avgGBs / copyGBs) * 100).toFixed(1)} % (target ≥ 30 %)`);
}

// FedAvg first, before the trainings fill the heap.
benchFedAvg();
if (args.includes('--fedavg-only')) process.exit(0);
console.log(`FL benchmark: digits, ${CLIENTS} clients, ${ROUNDS} rounds, softmax regression, 5 local epochs, lr 0.1, batch 32, held-out 20 %`);
const inProcess = new Map<string, number[]>();
for (const [name, dir] of TRAINERS) inProcess.set(name, report(`in-process IID, ${name} trainer`, await train(new InProcessClientHost(), 'iid', dir)));
report('in-process Dirichlet(0.5)', await train(new InProcessClientHost(), 'dirichlet:0.5'));

if (!args.includes('--no-docker') && process.env.DOCKER_HOST) {
  const backend = new DockerVirtualization({ dockerHost: process.env.DOCKER_HOST, serverId: `bench-fl-${process.pid}`,
    // Its own network: a daemon on the same dockerd closes the shared one to everything but its own coordinator port (egress policy).
    networkName: 'anweddol-bench-fl', publishedAddress: '127.0.0.1', portRange: [14000, 14999], memoryMiB: 512, vcpus: 1, ...(IMAGE ? { image: IMAGE } : {}) });
  await backend.start();
  try {
    const rows: string[] = [];
    for (const [name, dir] of TRAINERS) {
      const t0 = performance.now();
      const sandboxed = report(`sandboxes IID, ${name} trainer`, await train(new SandboxClientHost({ virtualization: backend }), 'iid', dir));
      console.log(`sandboxes, ${name} trainer: whole training incl. provisioning ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const local = inProcess.get(name)!;
      rows.push(`${name.padEnd(16)} ${mean(local).toFixed(0).padStart(10)} ms ${mean(sandboxed).toFixed(0).padStart(10)} ms ${`+${(mean(sandboxed) - mean(local)).toFixed(0)} ms`.padStart(10)} ${`${(mean(sandboxed) / mean(local)).toFixed(2)}x`.padStart(7)}`);
    }
    console.log(`per-round overhead, sandboxed vs in-process (mean round wall time, fit + test, ${CLIENTS} clients):`);
    console.log(`${'trainer'.padEnd(16)} ${'in-process'.padStart(13)} ${'sandboxes'.padStart(13)} ${'overhead'.padStart(10)} ${'ratio'.padStart(7)}`);
    for (const row of rows) console.log(row);
  } finally {
    await backend.close();
  }
} else {
  console.log('sandboxes: skipped (set DOCKER_HOST to the private dockerd, see scripts/dockerd.sh)');
}
