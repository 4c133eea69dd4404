// Seeded splits: held-out test fraction, IID shards, Dirichlet(α) label-skewed shards (pure).
import { classCount, selectRows, type Dataset } from './dataset.js';
import { Prng } from '../model/prng.js';

export type ShardSplit = { kind: 'iid' } | { kind: 'dirichlet'; alpha: number };

/** Parses `iid` or `dirichlet:<alpha>`. */
export function parseShardSplit(text: string): ShardSplit {
  if (text === 'iid') return { kind: 'iid' };
  const m = /^dirichlet:(\d+(?:\.\d+)?|\.\d+)$/.exec(text);
  if (m && Number(m[1]) > 0) return { kind: 'dirichlet', alpha: Number(m[1]) };
  throw new RangeError(`split must be 'iid' or 'dirichlet:<alpha > 0>', got '${text}'`);
}

/** Shuffles then keeps `testFraction` of the rows apart (the coordinator's held-out set). */
export function splitTrainTest(data: Dataset, testFraction: number, seed: number): { train: Dataset; test: Dataset } {
  if (!(testFraction > 0 && testFraction < 1)) throw new RangeError(`test fraction must be in (0, 1), got ${testFraction}`);
  const order = new Prng(seed).permutation(data.count);
  const nTest = Math.round(data.count * testFraction);
  return { test: selectRows(data, order.subarray(0, nTest)), train: selectRows(data, order.subarray(nTest)) };
}

export function splitShards(data: Dataset, clients: number, split: ShardSplit, seed: number, minShardSize = 1): Dataset[] {
  if (!(Number.isInteger(clients) && clients >= 1)) throw new RangeError(`clients must be a positive integer, got ${clients}`);
  if (data.count < clients * minShardSize) throw new RangeError(`${data.count} rows cannot give ${clients} shards of ≥ ${minShardSize}`);
  const rows = split.kind === 'iid' ? iidRows(data, clients, seed) : dirichletRows(data, clients, split.alpha, seed, minShardSize);
  return rows.map((r) => selectRows(data, r));
}

function iidRows(data: Dataset, clients: number, seed: number): number[][] {
  const order = new Prng(seed).permutation(data.count);
  const out: number[][] = Array.from({ length: clients }, () => []);
  for (let i = 0; i < order.length; i++) out[i % clients]!.push(order[i]!);
  return out;
}

/** Per class, proportions over clients drawn from Dirichlet(α); redrawn (bounded) until every shard has minShardSize rows. */
function dirichletRows(data: Dataset, clients: number, alpha: number, seed: number, minShardSize: number): number[][] {
  const prng = new Prng(seed);
  const classes = classCount(data);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < data.count; i++) byClass[data.labels[i]!]!.push(i);
  for (let attempt = 0; attempt < 100; attempt++) {
    const out: number[][] = Array.from({ length: clients }, () => []);
    for (const members of byClass) {
      prng.shuffle(members);
      const p = prng.dirichlet(alpha, clients);
      let start = 0;
      let acc = 0;
      for (let c = 0; c < clients; c++) {
        acc += p[c]!;
        const end = c === clients - 1 ? members.length : Math.round(acc * members.length);
        for (let i = start; i < end; i++) out[c]!.push(members[i]!);
        start = Math.max(start, end);
      }
    }
    if (out.every((s) => s.length >= minShardSize)) return out;
  }
  throw new RangeError(`Dirichlet(${alpha}) split could not give every one of ${clients} clients ≥ ${minShardSize} rows`);
}
