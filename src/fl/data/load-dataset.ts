// Reads a CSV data set from disk (plain or .gz).
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import type { Dataset } from './dataset.js';
import { parseCsvTable, type CsvTable } from './parse-csv-dataset.js';

export async function loadDataset(path: string): Promise<Dataset> {
  return (await loadCsvTable(path)).dataset;
}

export async function loadCsvTable(path: string): Promise<CsvTable> {
  const raw = await readFile(path);
  const text = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  return parseCsvTable(text);
}
