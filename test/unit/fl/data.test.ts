import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DatasetFormatError, formatCsvDataset, parseCsvDataset } from '../../../src/fl/data/parse-csv-dataset.js';
import { loadDataset } from '../../../src/fl/data/load-dataset.js';
import { parseShardSplit, splitShards, splitTrainTest } from '../../../src/fl/data/split-dataset.js';
import { combineFeatureStatistics, computeFeatureStatistics, standardize } from '../../../src/fl/data/standardizer.js';
import { selectRows, type Dataset } from '../../../src/fl/data/dataset.js';

const digitsPath = fileURLToPath(new URL('../../fixtures/digits.csv.gz', import.meta.url));

function labelCounts(d: Dataset, classes: number): number[] {
  const c = new Array<number>(classes).fill(0);
  for (const y of d.labels) c[y]!++;
  return c;
}

describe('CSV data sets', () => {
  it('parses rows with the integer label in the last column', () => {
    const d = parseCsvDataset('1,2,0\n3.5,4,1\n');
    assert.equal(d.count, 2);
    assert.equal(d.dimensions, 2);
    assert.deepEqual(Array.from(d.features), [1, 2, 3.5, 4]);
    assert.deepEqual(Array.from(d.labels), [0, 1]);
  });

  it('skips a header row', () => {
    const d = parseCsvDataset('a,b,label\r\n1,2,0\r\n');
    assert.equal(d.count, 1);
    assert.deepEqual(Array.from(d.features), [1, 2]);
  });

  it('says the header and the data disagree, naming both column counts, when the first data row does not match the header', () => {
    assert.throws(() => parseCsvDataset('f1,f2,f3,label\n1,2,0\n3,4,1\n'),
      (e: Error) => e instanceof DatasetFormatError && e.message === 'the header and the data disagree: the header (line 1) has 4 columns, the data rows have 3 (line 2)');
  });

  it('names the line of a ragged row, a non-numeric feature and a non-integer label', () => {
    assert.throws(() => parseCsvDataset('1,2,0\n1,0\n'), /line 2: 2 columns, expected 3/);
    assert.throws(() => parseCsvDataset('1,2,0\n1,x,0\n'), /line 2, column 2: 'x' is not a number/);
    assert.throws(() => parseCsvDataset('1,2,0.5\n'), /line 1: label '0.5'/);
    assert.throws(() => parseCsvDataset('\n\n'), /no rows/);
  });

  it('formats a data set back to the same rows', () => {
    const d = parseCsvDataset('1,2.5,0\n3,4,2\n');
    assert.deepEqual(parseCsvDataset(formatCsvDataset(d)), d);
  });

  it('loads the gzip-compressed digits fixture', async () => {
    const d = await loadDataset(digitsPath);
    assert.equal(d.count, 1797);
    assert.equal(d.dimensions, 64);
    assert.deepEqual(labelCounts(d, 10).every((n) => n > 170), true);
  });
});

describe('splits', () => {
  const data = parseCsvDataset(Array.from({ length: 200 }, (_, i) => `${i},${i % 7},${i % 4}`).join('\n'));

  it('keeps 20 % apart as the test set, disjoint from training, same for a seed', () => {
    const a = splitTrainTest(data, 0.2, 1);
    const b = splitTrainTest(data, 0.2, 1);
    assert.equal(a.test.count, 40);
    assert.equal(a.train.count, 160);
    assert.deepEqual(a.test, b.test);
    const ids = (d: Dataset) => Array.from({ length: d.count }, (_, r) => d.features[r * 2]!);
    const train = new Set(ids(a.train));
    assert.ok(ids(a.test).every((v) => !train.has(v)));
  });

  it('IID shards partition the rows evenly', () => {
    const shards = splitShards(data, 3, { kind: 'iid' }, 2);
    assert.deepEqual(shards.map((s) => s.count), [67, 67, 66]);
    const all = shards.flatMap((s) => Array.from({ length: s.count }, (_, r) => s.features[r * 2]!)).sort((x, y) => x - y);
    assert.deepEqual(all, Array.from({ length: 200 }, (_, i) => i));
  });

  it('Dirichlet(0.1) shards are label-skewed and still partition the rows', async () => {
    const digits = await loadDataset(digitsPath);
    const shards = splitShards(digits, 4, { kind: 'dirichlet', alpha: 0.1 }, 3, 10);
    assert.equal(shards.reduce((n, s) => n + s.count, 0), digits.count);
    // With α = 0.1 most of a class lands on one client: the largest share per class averages far above 1/4.
    const totals = labelCounts(digits, 10);
    const dominance = totals.map((t, c) => Math.max(...shards.map((s) => labelCounts(s, 10)[c]!)) / t);
    assert.ok(dominance.reduce((a, b) => a + b) / 10 > 0.6, `mean dominance ${dominance}`);
    const iid = splitShards(digits, 4, { kind: 'iid' }, 3);
    const iidDominance = totals.map((t, c) => Math.max(...iid.map((s) => labelCounts(s, 10)[c]!)) / t);
    assert.ok(iidDominance.every((x) => x < 0.4));
  });

  it('Dirichlet split is deterministic for a seed and every shard has the minimum size', () => {
    const a = splitShards(data, 5, { kind: 'dirichlet', alpha: 0.5 }, 9, 5);
    const b = splitShards(data, 5, { kind: 'dirichlet', alpha: 0.5 }, 9, 5);
    assert.deepEqual(a, b);
    assert.ok(a.every((s) => s.count >= 5));
  });

  it('parses the split option', () => {
    assert.deepEqual(parseShardSplit('iid'), { kind: 'iid' });
    assert.deepEqual(parseShardSplit('dirichlet:0.5'), { kind: 'dirichlet', alpha: 0.5 });
    assert.throws(() => parseShardSplit('dirichlet:0'), /split must be/);
    assert.throws(() => parseShardSplit('random'), /split must be/);
  });
});

describe('standardisation from client statistics', () => {
  it('combined per-client sums give the pooled mean and standard deviation', async () => {
    const digits = await loadDataset(digitsPath);
    const shards = splitShards(digits, 3, { kind: 'dirichlet', alpha: 0.5 }, 1, 10);
    const combined = combineFeatureStatistics(shards.map(computeFeatureStatistics));
    const pooled = combineFeatureStatistics([computeFeatureStatistics(digits)]);
    for (let k = 0; k < 64; k++) {
      assert.ok(Math.abs(combined.mean[k]! - pooled.mean[k]!) < 1e-4);
      assert.ok(Math.abs(combined.scale[k]! - pooled.scale[k]!) < 1e-3 * pooled.scale[k]!);
    }
    const z = standardize(digits, combined);
    const col = 20;
    let s = 0, sq = 0;
    for (let r = 0; r < z.count; r++) { s += z.features[r * 64 + col]!; sq += z.features[r * 64 + col]! ** 2; }
    assert.ok(Math.abs(s / z.count) < 1e-4);
    assert.ok(Math.abs(sq / z.count - 1) < 1e-3);
  });

  it('a constant feature gets scale 1 instead of a division by zero', () => {
    const d = parseCsvDataset('5,1,0\n5,3,1\n');
    const s = combineFeatureStatistics([computeFeatureStatistics(selectRows(d, [0])), computeFeatureStatistics(selectRows(d, [1]))]);
    assert.equal(s.scale[0], 1);
    assert.equal(s.mean[0], 5);
    assert.equal(s.scale[1], 1);
    assert.equal(s.mean[1], 2);
  });
});
