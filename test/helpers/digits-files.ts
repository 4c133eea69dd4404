// The digits fixture cut into per-client CSV files (for --client-data tests).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectRows, type Dataset } from '../../src/fl/data/dataset.js';
import { loadDataset } from '../../src/fl/data/load-dataset.js';
import { formatCsvDataset } from '../../src/fl/data/parse-csv-dataset.js';
import { Prng } from '../../src/fl/model/prng.js';

export const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));

/** The digits fixture cut into three files of different sizes (and a test file), the first with a header row. */
export async function cutDigits(dir: string): Promise<{ files: string[]; parts: Dataset[]; testFile: string }> {
  const data = await loadDataset(DIGITS);
  const order = new Prng(3).permutation(data.count);
  const bounds = [0, 300, 800, 1400, data.count];
  const parts = [0, 1, 2, 3].map((i) => selectRows(data, order.subarray(bounds[i], bounds[i + 1])));
  const names = ['site-a.csv', 'site-b.csv', 'site-c.csv', 'test.csv'];
  const header = Array.from({ length: 64 }, (_, k) => `px${k}`).join(',') + ',label\n';
  parts.forEach((p, i) => writeFileSync(join(dir, names[i]!), (i === 0 ? header : '') + formatCsvDataset(p)));
  return { files: names.slice(0, 3).map((n) => join(dir, n)), parts: parts.slice(0, 3), testFile: join(dir, names[3]!) };
}

