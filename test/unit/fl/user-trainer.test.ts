// User trainers (`--trainer DIR`) under the coordinator with in-process agents: the examples train, a failing trainer misses one round.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentLaunch, LaunchedClient } from '../../../src/fl/coordinator/client-host.js';
import { InProcessClientHost } from '../../../src/fl/coordinator/in-process-client-host.js';
import { BASE, harness, type Harness } from '../../helpers/fl-harness.js';
import { type MISBEHAVIOURS, misbehavingTrainer, NODE_TRAINER, PYTHON_TRAINER } from '../../helpers/trainer-dirs.js';

/** Agents as an image older than user trainers runs them: the trainer directory is ignored, the built-in trainer trains. */
class AgentsWithoutUserTrainers extends InProcessClientHost {
  override launch(launch: AgentLaunch, signal: AbortSignal): Promise<LaunchedClient> {
    const { trainerBundle: _ignored, ...withoutTrainer } = launch;
    return super.launch(withoutTrainer, signal);
  }
}

describe('user trainers with in-process agents', () => {
  let h: Harness;
  before(async () => {
    h = await harness(new InProcessClientHost());
  });
  after(() => h.close());

  for (const [name, dir] of [['Python (numpy)', PYTHON_TRAINER], ['Node', NODE_TRAINER]] as const) {
    it(`trains with the ${name} example trainer`, async () => {
      const s = await h.coordinator.waitForTraining(h.coordinator.startTraining({ ...BASE, rounds: 2, trainerDir: dir }));
      assert.equal(s.status, 'finished', s.message);
      assert.deepEqual(s.rounds.map((r) => r.clients), [3, 3]);
      assert.ok(s.final_accuracy! > 0.8, `accuracy ${s.final_accuracy}`);
    });
  }

  const expected: Record<Exclude<keyof typeof MISBEHAVIOURS, 'slow'>, RegExp> = {
    crash: /^the trainer exited with code 3$/,
    hang: /^the trainer ran past its 2\.4 s limit and was killed$/,
    malformed: /^the trainer wrote a malformed model: /,
  };
  for (const kind of Object.keys(expected) as Array<keyof typeof expected>) {
    it(`leaves a client whose trainer does "${kind}" out of that round only, with the reason, and goes on`, async () => {
      const dir = h.removeOnClose(misbehavingTrainer(kind, 'client-3', 2));
      const s = await h.coordinator.waitForTraining(h.coordinator.startTraining({ ...BASE, minClients: 2, roundTimeoutSeconds: 3, trainerDir: dir }));
      assert.equal(s.status, 'finished', s.message);
      assert.deepEqual(s.rounds.map((r) => r.clients), [3, 2, 3]);
      const dropped = s.rounds[1]!.dropped ?? [];
      assert.deepEqual(dropped.map((d) => d.client_id), ['client-3']);
      assert.match(dropped[0]!.reason, expected[kind]);
      // A hang is killed at 2.4 s, too near the 3 s deadline to tell apart by time on a loaded machine: its status below shows it was not dropped as silent.
      if (kind !== 'hang') assert.ok(s.rounds[1]!.duration_ms < 3000, `round 2 waited for the deadline: ${s.rounds[1]!.duration_ms} ms`);
      assert.deepEqual(s.clients.map((c) => c.status), ['finished', 'finished', 'finished']);
    });
  }

  it('fails the training when the trainer failures leave fewer updates than --min-clients', async () => {
    const dir = h.removeOnClose(misbehavingTrainer('crash', 'client-3', 1));
    const s = await h.coordinator.waitForTraining(h.coordinator.startTraining({ ...BASE, roundTimeoutSeconds: 3, trainerDir: dir }));
    assert.equal(s.status, 'failed');
    assert.match(s.message, /round 1: 2 update\(s\) received, min_fit_clients is 3/);
  });

  it('drops a client whose agent cannot run the user trainer before round 1, with the reason, instead of training it with the built-in trainer', async () => {
    const old = await harness(new AgentsWithoutUserTrainers());
    try {
      const s = await old.coordinator.waitForTraining(old.coordinator.startTraining({ ...BASE, minClients: 1, trainerDir: NODE_TRAINER }));
      assert.equal(s.status, 'failed');
      assert.deepEqual(s.rounds, []);
      assert.deepEqual(s.clients.map((c) => c.drop_reason), Array(3).fill('its agent cannot run a user trainer (the sandbox image predates --trainer: rebuild it with build-image)'));
    } finally {
      await old.close();
    }
  });

  it('refuses a trainer directory without train before anything starts', () => {
    assert.throws(() => h.coordinator.startTraining({ ...BASE, trainerDir: '/nonexistent-trainer' }), /trainer: \/nonexistent-trainer does not exist/);
  });
});
