// Elastic clients with in-process agents: `fl join` during a training, `--overselect` with a straggler, refused joins.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessClientHost } from '../../../src/fl/coordinator/in-process-client-host.js';
import { BASE, harness, type Harness } from '../../helpers/fl-harness.js';
import { misbehavingTrainer } from '../../helpers/trainer-dirs.js';
import { until } from '../../helpers/until.js';

describe('elastic clients with in-process agents', () => {
  let h: Harness;
  before(async () => {
    h = await harness(new InProcessClientHost());
  });
  after(() => h.close());

  const roundCompleted = (id: string, round: number) => h.events.some((e) => e.name === 'fl_round_completed' && e.payload.training_uuid === id && e.payload.round === round);

  it('a client joining during round 2 sends its first update in round 3', async () => {
    // client-1 takes 1.5 s more in round 2: the newcomer is ready while round 2 is still collecting.
    const trainerDir = h.removeOnClose(misbehavingTrainer('slow', 'client-1', 2));
    const id = h.coordinator.startTraining({ ...BASE, clients: 2, rounds: 3, trainerDir });
    await until(() => roundCompleted(id, 1), 30_000);
    const joined = await h.coordinator.joinTraining(id);
    assert.equal(joined, 'client-3');
    assert.equal(roundCompleted(id, 2), false, 'joined while round 2 ran');
    const s = await h.coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', s.message);
    assert.deepEqual(s.rounds.map((r) => r.clients), [2, 2, 3]);
    assert.deepEqual(h.store.participation(id).filter((p) => p.clientId === 'client-3' && p.phase === 'fit').map((p) => p.round), [3]);
    assert.ok(h.events.some((e) => e.name === 'fl_client_joined' && e.payload.training_uuid === id && e.payload.client_id === 'client-3'));
  });

  it('--overselect 1.5 aggregates the first K updates: a slow client is discarded without delaying the round, and counted', async () => {
    const trainerDir = h.removeOnClose(misbehavingTrainer('slow', 'client-3', 1));
    const id = h.coordinator.startTraining({ ...BASE, clients: 3, minClients: 2, fraction: 0.5, overselect: 1.5, rounds: 20, trainerDir });
    const s = await h.coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', s.message);
    assert.equal(s.rounds[0]!.clients, 2);
    assert.deepEqual(s.rounds[0]!.late, ['client-3']);
    assert.ok(s.rounds[0]!.duration_ms < 1500, `round 1 took ${s.rounds[0]!.duration_ms} ms`);
    assert.ok(s.late_updates_discarded! >= 1, `late updates discarded: ${s.late_updates_discarded}`);
    assert.equal(s.clients.find((c) => c.client_id === 'client-3')!.status, 'finished');
  });

  it('refuses a join whose data file has other columns, naming the file, before launching anything', async () => {
    const dir = h.removeOnClose(mkdtempSync(join(tmpdir(), 'fl-join-')));
    const file = join(dir, 'three-columns.csv');
    writeFileSync(file, '1,2,0\n3,4,1\n');
    const trainerDir = h.removeOnClose(misbehavingTrainer('slow', 'client-1', 1));
    const id = h.coordinator.startTraining({ ...BASE, clients: 2, rounds: 2, trainerDir });
    await until(() => h.coordinator.summary(id)?.status === 'running', 30_000);
    await assert.rejects(h.coordinator.joinTraining(id, file), new RegExp(`${file} has 2 feature columns, the training has 8`));
    const s = await h.coordinator.waitForTraining(id);
    assert.deepEqual(s.clients.map((c) => c.client_id), ['client-1', 'client-2']);
  });

  it('refuses a join to a training that is not running', async () => {
    await assert.rejects(h.coordinator.joinTraining('00000000-0000-4000-8000-000000000000'), /no running training/);
  });
});
