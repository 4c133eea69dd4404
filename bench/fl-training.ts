// One training on a fresh coordinator with its own temporary model folder, for the FL benchmarks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlCoordinator, type TrainingSummary } from '../src/fl/coordinator/fl-coordinator.js';
import type { ClientHost } from '../src/fl/coordinator/client-host.js';
import type { TrainingRequestInput } from '../src/fl/coordinator/training-request.js';

/** Runs the training to its end; anything but `finished` is an error. */
export async function runTraining(host: ClientHost, request: TrainingRequestInput): Promise<TrainingSummary> {
  const dir = mkdtempSync(join(tmpdir(), 'fl-bench-'));
  const coordinator = new FlCoordinator({ host, dataDir: dir, listenPort: 0 });
  await coordinator.start();
  try {
    const s = await coordinator.waitForTraining(coordinator.startTraining(request));
    if (s.status !== 'finished') {
      const dropped = s.clients.filter((c) => c.drop_reason).map((c) => `${c.client_id}: ${c.drop_reason}`);
      throw new Error(`training ${s.status}: ${s.message}${dropped.length > 0 ? ` (${dropped.join('; ')})` : ''}`);
    }
    return s;
  } finally {
    await coordinator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
