// CSV → Dataset: numeric features, integer class label in the last column, optional header row (pure).
import type { Dataset } from './dataset.js';

export class DatasetFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetFormatError';
  }
}

export function parseCsvDataset(text: string): Dataset {
  return parseCsvTable(text).dataset;
}

/** A parsed CSV and the line (1-based) that set its column count: a header, else the first data row. */
export interface CsvTable {
  dataset: Dataset;
  columnsLine: number;
}

export function parseCsvTable(text: string): CsvTable {
  const lines = text.split(/\r?\n/);
  let dims = -1;
  let first = true;
  /** Where the column count was set: a header row or the first data row. */
  let countFrom: { line: number; header: boolean } | undefined;
  let dataRows = 0;
  const feats: number[] = [];
  const labels: number[] = [];
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln]!.trim();
    if (line === '') continue;
    const cells = line.split(',').map((c) => c.trim());
    if (first) {
      first = false;
      // A first row with any non-numeric cell is a header.
      if (cells.some((c) => c === '' || !Number.isFinite(Number(c)))) {
        if (cells.length < 2) throw new DatasetFormatError(`line ${ln + 1}: header has ${cells.length} column, need features and a label`);
        dims = cells.length - 1;
        countFrom = { line: ln + 1, header: true };
        continue;
      }
    }
    if (cells.length < 2) throw new DatasetFormatError(`line ${ln + 1}: ${cells.length} column, need at least one feature and a label`);
    if (dims === -1) {
      dims = cells.length - 1;
      countFrom = { line: ln + 1, header: false };
    }
    if (cells.length !== dims + 1) throw new DatasetFormatError(columnCountMismatch(countFrom!, dims + 1, cells.length, ln + 1, dataRows));
    dataRows++;
    for (let k = 0; k < dims; k++) {
      const v = Number(cells[k]);
      if (cells[k] === '' || !Number.isFinite(v)) throw new DatasetFormatError(`line ${ln + 1}, column ${k + 1}: '${cells[k]!.slice(0, 20)}' is not a number`);
      feats.push(v);
    }
    const label = Number(cells[dims]);
    if (cells[dims] === '' || !Number.isInteger(label) || label < 0) {
      throw new DatasetFormatError(`line ${ln + 1}: label '${cells[dims]!.slice(0, 20)}' is not a non-negative integer`);
    }
    labels.push(label);
  }
  if (labels.length === 0) throw new DatasetFormatError('the data set has no rows');
  return { dataset: { features: Float32Array.from(feats), labels: Int32Array.from(labels), count: labels.length, dimensions: dims }, columnsLine: countFrom!.line };
}

/** When the first data row already disagrees with a header, it is the header that is wrong (or the data), not one ragged line. */
function columnCountMismatch(from: { line: number; header: boolean }, expected: number, got: number, line: number, dataRowsBefore: number): string {
  if (from.header && dataRowsBefore === 0) {
    return `the header and the data disagree: the header (line ${from.line}) has ${expected} columns, the data rows have ${got} (line ${line})`;
  }
  return `line ${line}: ${got} columns, expected ${expected}`;
}

/** A dataset as header-less CSV (what a client's shard looks like inside its sandbox). */
export function formatCsvDataset(data: Dataset): string {
  const d = data.dimensions;
  const out: string[] = [];
  for (let r = 0; r < data.count; r++) {
    const row = Array.from(data.features.subarray(r * d, r * d + d), (v) => String(v));
    row.push(String(data.labels[r]));
    out.push(row.join(','));
  }
  return out.join('\n') + '\n';
}
