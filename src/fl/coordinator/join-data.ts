// The data of a client joining a running training (`fl join`): its own file, checked against the model, or a sample of the training's data.
import type { FlStore } from '../../database/fl-store.js';
import { classCount, type Dataset } from '../data/dataset.js';
import { splitShards, splitTrainTest } from '../data/split-dataset.js';
import type { ClientData } from './training-data.js';
import type { TrainingRun } from './training-run.js';

/**
 * A joining client's rows: its own file (`own`, already checked), else a sample of the training's data set.
 * When the clients evaluate their own held-out rows (per-client data without a test file), it holds out its share too.
 */
export function joinClientData(run: TrainingRun, own: Dataset | undefined, path: string | undefined): ClientData {
  if (!own) {
    if (!run.pool) throw new Error(`training ${run.uuid} has per-client data: a joining client needs its own data file (--data)`);
    return { train: joinShard(run, run.pool) };
  }
  if (run.test) return { train: own };
  const r = run.request;
  const { train, test } = splitTrainTest(own, r.testFraction, r.seed + run.clients.size + run.retiredJoins);
  if (train.count === 0 || test.count === 0) throw new Error(`${path}: ${own.count} row(s) cannot hold out a test fraction of ${r.testFraction} and still train`);
  return { train, test };
}

/** A joining client without a data file: a seeded IID sample of the training data, as large as an even shard. */
function joinShard(run: TrainingRun, pool: Dataset): Dataset {
  const r = run.request;
  return splitShards(pool, r.clients, { kind: 'iid' }, r.seed + 7919 * (run.clients.size + run.retiredJoins))[0]!;
}

/** A joining client's own data file must fit the training's model: same feature count, known classes. */
export function checkJoinData(data: Dataset, run: TrainingRun, path: string): Dataset {
  if (data.dimensions !== run.spec.inputs) throw new Error(`${path} has ${data.dimensions} feature columns, the training has ${run.spec.inputs}`);
  if (classCount(data) > run.spec.classes) throw new Error(`${path} has label ${classCount(data) - 1}, the training knows classes 0..${run.spec.classes - 1}`);
  return data;
}

/**
 * A resumed training relaunches the clients of its request only: those an earlier run took in with `fl join` are recorded as
 * dropped (they can join again), and new ids start after theirs.
 */
export function retireJoinedClients(store: FlStore, run: TrainingRun): void {
  for (const rec of store.clients(run.uuid)) {
    if (run.clients.has(rec.clientId)) continue;
    run.retiredJoins++;
    if (rec.status === 'dropped') continue;
    store.saveClient({ ...rec, status: 'dropped', dropReason: 'joined with fl join: a resumed training does not relaunch joined clients' });
  }
}
