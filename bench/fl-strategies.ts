// Held-out digits accuracy after N rounds for every server strategy, IID and Dirichlet(0.3), in-process (no sandboxes).
// Usage: node --import tsx bench/fl-strategies.ts [--rounds 10] [--clients 4] [--seed 0]
import { fileURLToPath } from 'node:url';
import { InProcessClientHost } from '../src/fl/coordinator/in-process-client-host.js';
import type { TrainingRequestInput } from '../src/fl/coordinator/training-request.js';
import { runTraining } from './fl-training.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const ROUNDS = opt('--rounds', 10);
const CLIENTS = opt('--clients', 4);
const SEED = opt('--seed', 0);
const DIGITS = fileURLToPath(new URL('../test/fixtures/digits.csv.gz', import.meta.url));

/** Each strategy with its defaults (Flower's), plus FedAvgM with the momentum its authors use. */
const ROWS: Array<[string, Partial<TrainingRequestInput>]> = [
  ['fedavg', { strategy: 'fedavg' }],
  ['fedprox (mu 0.01)', { strategy: 'fedprox', mu: 0.01 }],
  ['fedavgm (defaults: η 1, μ 0)', { strategy: 'fedavgm' }],
  ['fedavgm (μ 0.9)', { strategy: 'fedavgm', serverMomentum: 0.9 }],
  ['fedadam (η 0.1, β 0.9/0.99, τ 1e-9)', { strategy: 'fedadam' }],
  ['fedyogi (η 0.01, β 0.9/0.99, τ 1e-3)', { strategy: 'fedyogi' }],
  ['fedadagrad (η 0.1, τ 1e-9)', { strategy: 'fedadagrad' }],
];
const SPLITS = ['iid', 'dirichlet:0.3'];

const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(2)} %`);
console.log(`digits, ${CLIENTS} clients, ${ROUNDS} rounds, softmax regression, 5 local epochs, lr 0.1, batch 32, held-out 20 %, seed ${SEED}`);
console.log(`| strategy | ${SPLITS.join(' | ')} | best round (${SPLITS.join(' / ')}) |`);
console.log(`|---|${SPLITS.map(() => '---|').join('')}---|`);
for (const [label, strategy] of ROWS) {
  const cells: string[] = [];
  const best: string[] = [];
  for (const split of SPLITS) {
    const s = await runTraining(new InProcessClientHost(), { clients: CLIENTS, rounds: ROUNDS, model: 'logreg', dataset: DIGITS, split, seed: SEED, ...strategy });
    cells.push(pct(s.final_accuracy));
    const top = s.rounds.reduce((a, b) => (b.accuracy > a.accuracy ? b : a));
    best.push(`${pct(top.accuracy)} @${top.round}`);
  }
  console.log(`| ${label} | ${cells.join(' | ')} | ${best.join(' / ')} |`);
}
