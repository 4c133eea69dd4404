// User trainers (`--trainer DIR`) in real sandboxes (private dockerd, real image): both examples train digits; a crash costs one round.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FlCoordinator } from '../../src/fl/coordinator/fl-coordinator.js';
import { SandboxClientHost } from '../../src/fl/coordinator/sandbox-client-host.js';
import { DockerVirtualization } from '../../src/virtualization/docker/docker-virtualization.js';
import { containersOf, dockerHost, ownSandboxImage, removeNetwork, uniqueServerId } from '../helpers/docker-sandbox.js';
import { misbehavingTrainer, NODE_TRAINER, PYTHON_TRAINER } from '../helpers/trainer-dirs.js';

const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));
const serverId = uniqueServerId('fltr');
// Its own network: a daemon of another test on this dockerd may close the shared one to all but its own coordinator port.
const networkName = `${serverId}-net`;
const BASE = { clients: 2, rounds: 2, dataset: DIGITS, localEpochs: 2, roundTimeoutSeconds: 30, readyTimeoutSeconds: 30 };

describe('user trainers in Docker sandboxes', () => {
  let backend: DockerVirtualization;
  let coordinator: FlCoordinator;
  let dir: string;
  const trainerDirs: string[] = [];

  before(async () => {
    backend = new DockerVirtualization({ dockerHost: dockerHost(), image: ownSandboxImage(), serverId, networkName, publishedAddress: '127.0.0.1', portRange: [14000, 14499], memoryMiB: 512, vcpus: 1, pidsLimit: 256 });
    await backend.start();
    assert.equal(backend.isAvailable(), true);
    dir = mkdtempSync(join(tmpdir(), 'fl-trainers-'));
    coordinator = new FlCoordinator({ host: new SandboxClientHost({ virtualization: backend }), dataDir: dir, listenPort: 0 });
    await coordinator.start();
  });

  after(async () => {
    await coordinator?.stop();
    for (const id of containersOf(serverId)) await backend.destroy(id).catch(() => undefined);
    await backend?.close();
    removeNetwork(networkName);
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const d of trainerDirs) rmSync(d, { recursive: true, force: true });
  });

  for (const [name, trainerDir] of [['Python (numpy)', PYTHON_TRAINER], ['Node', NODE_TRAINER]] as const) {
    it(`trains digits with the ${name} example trainer inside the sandboxes`, async () => {
      const s = await coordinator.waitForTraining(coordinator.startTraining({ ...BASE, trainerDir }));
      assert.equal(s.status, 'finished', `${s.message} ${JSON.stringify(s.clients)}`);
      assert.deepEqual(s.rounds.map((r) => r.clients), [2, 2]);
      assert.ok(s.final_accuracy! > 0.85 && s.final_accuracy! > s.initial_accuracy! + 0.5, `${s.initial_accuracy} → ${s.final_accuracy}`);
      assert.deepEqual(containersOf(serverId), [], 'sandboxes destroyed');
    });
  }

  it('leaves a sandboxed client whose trainer crashes out of that round, with the reason, and goes on', async () => {
    const trainerDir = misbehavingTrainer('crash', 'client-2', 1);
    trainerDirs.push(trainerDir);
    const s = await coordinator.waitForTraining(coordinator.startTraining({ ...BASE, minClients: 1, trainerDir }));
    assert.equal(s.status, 'finished', s.message);
    assert.deepEqual(s.rounds.map((r) => r.clients), [1, 2]);
    assert.deepEqual(s.rounds[0]!.dropped, [{ client_id: 'client-2', reason: 'the trainer exited with code 3' }]);
  });
});
