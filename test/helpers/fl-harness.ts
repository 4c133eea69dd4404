// FL coordinator test harness: a small separable data set and an in-memory coordinator with its events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnweddolDatabase } from '../../src/database/database.js';
import { FlStore } from '../../src/database/fl-store.js';
import { FlCoordinator, type FlEventName } from '../../src/fl/coordinator/fl-coordinator.js';
import type { ClientHost } from '../../src/fl/coordinator/client-host.js';
import type { Dataset } from '../../src/fl/data/dataset.js';
import { Prng } from '../../src/fl/model/prng.js';

/** Four Gaussian blobs in 8 dimensions: quick to learn, slow enough to see progress. */
export function blobs(count: number, seed: number): Dataset {
  const prng = new Prng(seed);
  const d = 8;
  const features = new Float32Array(count * d);
  const labels = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const c = r % 4;
    labels[r] = c;
    for (let k = 0; k < d; k++) features[r * d + k] = (k === c ? 2 : 0) + prng.normal();
  }
  return { features, labels, count, dimensions: d };
}

export const DATA = blobs(600, 1);
export const BASE = { clients: 3, rounds: 3, dataset: DATA, localEpochs: 2, learningRate: 0.05, roundTimeoutSeconds: 10, readyTimeoutSeconds: 10 };

export interface Harness {
  coordinator: FlCoordinator;
  store: FlStore;
  events: Array<{ name: FlEventName; payload: Record<string, unknown> }>;
  dir: string;
  /** Removes `path` (e.g. a trainer folder a test wrote) when the harness closes; returns it. */
  removeOnClose(path: string): string;
  close(): Promise<void>;
}

export async function harness(host: ClientHost): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'fl-coord-'));
  const database = new AnweddolDatabase(':memory:');
  const store = new FlStore(database);
  const events: Harness['events'] = [];
  const coordinator = new FlCoordinator({ host, dataDir: dir, listenPort: 0, store, emit: (name, payload) => events.push({ name, payload }) });
  await coordinator.start();
  const owned = [dir];
  return {
    coordinator, store, events, dir,
    removeOnClose: (path) => (owned.push(path), path),
    close: async () => {
      await coordinator.stop();
      database.close();
      for (const path of owned) rmSync(path, { recursive: true, force: true });
    },
  };
}
