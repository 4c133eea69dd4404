// A training's data: one CSV the coordinator splits (held-out part + shards), or one file per client (a shared test file, or each client's own held-out rows).
import { classCount, type Dataset } from '../data/dataset.js';
import { loadCsvTable } from '../data/load-dataset.js';
import type { CsvTable } from '../data/parse-csv-dataset.js';
import { splitShards, splitTrainTest } from '../data/split-dataset.js';
import type { TrainingRequest } from './training-request.js';

export interface ClientData {
  train: Dataset;
  /** The client's own held-out rows: it evaluates the global model on them in test rounds. */
  test?: Dataset;
}

export interface TrainingData {
  inputs: number;
  classes: number;
  /** The held-out set the coordinator evaluates; null when every client evaluates its own. */
  test: Dataset | null;
  /** The training rows of a single data set, sampled for a client joining without data (`fl join`); null with per-client data. */
  pool: Dataset | null;
  clients: ClientData[];
}

/** Bad training data, named by file and line: the training fails before any sandbox. */
export class TrainingDataError extends Error {
  override name = 'TrainingDataError';
}

export async function loadTrainingData(r: TrainingRequest): Promise<TrainingData> {
  if (r.clientData.length > 0) return loadClientFiles(r);
  const data = typeof r.dataset === 'string' ? (await loadCsvTable(r.dataset)).dataset : r.dataset;
  const { train, test } = splitTrainTest(data, r.testFraction, r.seed);
  const shards = splitShards(train, r.clients, r.split, r.seed + 1, Math.min(10, Math.floor(train.count / r.clients)));
  return { inputs: data.dimensions, classes: classCount(data), test, pool: train, clients: shards.map((s) => ({ train: s })) };
}

/** Every file must have the first file's columns; without a test file each client holds out a seeded fraction of its own rows. */
async function loadClientFiles(r: TrainingRequest): Promise<TrainingData> {
  const paths = r.testData === null ? r.clientData : [...r.clientData, r.testData];
  const tables = await Promise.all(paths.map((path) => loadNamed(path)));
  const first = tables[0]!.dataset;
  tables.forEach((t, i) => {
    if (t.dataset.dimensions !== first.dimensions) {
      throw new TrainingDataError(`${paths[i]} line ${t.columnsLine}: ${t.dataset.dimensions + 1} columns, but ${paths[0]} has ${first.dimensions + 1}`);
    }
  });
  const classes = Math.max(...tables.map((t) => classCount(t.dataset)));
  const own = tables.slice(0, r.clientData.length).map((t) => t.dataset);
  if (r.testData !== null) return { inputs: first.dimensions, classes, test: tables.at(-1)!.dataset, pool: null, clients: own.map((d) => ({ train: d })) };
  const clients = own.map((d, i) => {
    // Seeded per client (not per position in a shared permutation), so each owner's split depends on its file alone.
    const { train, test } = splitTrainTest(d, r.testFraction, r.seed + i);
    if (train.count === 0 || test.count === 0) throw new TrainingDataError(`${r.clientData[i]}: ${d.count} row(s) cannot hold out a test fraction of ${r.testFraction} and still train`);
    return { train, test };
  });
  return { inputs: first.dimensions, classes, test: null, pool: null, clients };
}

async function loadNamed(path: string): Promise<CsvTable> {
  try {
    return await loadCsvTable(path);
  } catch (e) {
    const message = (e as Error).message;
    throw new TrainingDataError(message.includes(path) ? message : `${path}: ${message}`);
  }
}
