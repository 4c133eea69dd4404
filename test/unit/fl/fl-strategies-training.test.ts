import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { FlStore } from '../../../src/database/fl-store.js';
import type { FlEventName, TrainingSummary } from '../../../src/fl/coordinator/fl-coordinator.js';
import { InProcessClientHost } from '../../../src/fl/coordinator/in-process-client-host.js';
import type { TrainingRequestInput } from '../../../src/fl/coordinator/training-request.js';
import { decodeOptimizerState } from '../../../src/fl/strategy/optimizer-state-file.js';
import { STRATEGY_NAMES } from '../../../src/fl/strategy/strategy.js';
import { harness } from '../../helpers/fl-harness.js';

const DIGITS = fileURLToPath(new URL('../../fixtures/digits.csv.gz', import.meta.url));
const BASE: TrainingRequestInput = { clients: 4, rounds: 5, dataset: DIGITS, seed: 0 };

interface Trained {
  summary: TrainingSummary;
  events: Array<{ name: FlEventName; payload: Record<string, unknown> }>;
  store: FlStore;
}

/** One in-process training on digits with its own store and model folder, released before returning. */
async function train(request: Partial<TrainingRequestInput>, inspect?: (t: Trained) => void): Promise<Trained> {
  const h = await harness(new InProcessClientHost());
  try {
    const summary = await h.coordinator.waitForTraining(h.coordinator.startTraining({ ...BASE, ...request }));
    const trained = { summary, events: h.events, store: h.store };
    inspect?.(trained);
    return trained;
  } finally {
    await h.close();
  }
}

describe('server strategies on digits (in-process)', () => {
  for (const strategy of STRATEGY_NAMES) {
    it(`${strategy} trains softmax regression past 85 % held-out accuracy in 5 rounds`, async () => {
      const { summary } = await train({ strategy, ...(strategy === 'fedprox' ? { mu: 0.01 } : {}) });
      assert.equal(summary.status, 'finished', summary.message);
      assert.equal(summary.rounds.length, 5);
      assert.ok(summary.final_accuracy! > 0.85, `${strategy}: ${summary.final_accuracy}`);
    });
  }

  it('keeps the adaptive optimizer\'s moments in the store after every round', async () => {
    await train({ strategy: 'fedadam', rounds: 2 }, ({ summary, store }) => {
      const row = store.optimizerState(summary.training_uuid)!;
      assert.equal(row.round, 2);
      const state = decodeOptimizerState(row.state);
      assert.equal(state.step, 2);
      assert.equal(state.m!.length, 64 * 10 + 10);
      assert.ok(state.v!.some((x) => x > 0));
    });
  });
});

describe('stop conditions on digits (in-process)', () => {
  it('ends as "finished (target reached)" at the first round reaching --target-accuracy and emits fl_target_reached', async () => {
    const { summary, events } = await train({ rounds: 10, targetAccuracy: 0.94 });
    assert.equal(summary.status, 'finished');
    assert.equal(summary.message, 'target reached');
    assert.ok(summary.rounds.length > 1 && summary.rounds.length < 10, `stopped after ${summary.rounds.length} rounds`);
    assert.ok(summary.rounds.at(-1)!.accuracy >= 0.94);
    assert.ok(summary.rounds.slice(0, -1).every((r) => r.accuracy < 0.94));
    const fired = events.find((e) => e.name === 'fl_target_reached');
    assert.deepEqual(fired?.payload, { training_uuid: summary.training_uuid, round: summary.rounds.length, accuracy: summary.final_accuracy, target_accuracy: 0.94 });
  });

  it('ends after --patience rounds without a new best accuracy and emits fl_patience_exhausted', async () => {
    const { summary, events } = await train({ rounds: 10, patience: 1 });
    assert.equal(summary.status, 'finished');
    assert.equal(summary.message, 'no improvement for 1 round(s)');
    const accuracies = summary.rounds.map((r) => r.accuracy);
    assert.ok(accuracies.length < 10);
    assert.ok(accuracies.at(-1)! <= Math.max(...accuracies.slice(0, -1)));
    const fired = events.find((e) => e.name === 'fl_patience_exhausted');
    assert.equal(fired?.payload.round, accuracies.length);
    assert.equal(fired?.payload.patience, 1);
  });
});

/** In-process agents, except that the last client's agent can never be notified (it never becomes ready). */
class OneUnreadyHost extends InProcessClientHost {
  constructor(private readonly unready: string) {
    super();
  }

  override async launch(...args: Parameters<InProcessClientHost['launch']>) {
    const launched = await super.launch(...args);
    // Port 1 on loopback refuses connections: TRAINING_START is retried until the training stops waiting.
    return args[0].clientId === this.unready ? { ...launched, agentUrl: 'http://127.0.0.1:1' } : launched;
  }
}

describe('--start-when (in-process)', () => {
  async function startWith(request: Partial<TrainingRequestInput>) {
    const h = await harness(new OneUnreadyHost('client-3'));
    try {
      const started = performance.now();
      const summary = await h.coordinator.waitForTraining(h.coordinator.startTraining({ ...BASE, clients: 3, rounds: 1, localEpochs: 1, ...request }));
      return { summary, events: h.events, seconds: (performance.now() - started) / 1000 };
    } finally {
      await h.close();
    }
  }

  it('starts the rounds once start_when clients are ready, without waiting out the ready timeout, and drops the latecomer with the reason', async () => {
    const { summary, events, seconds } = await startWith({ startWhen: 2, minClients: 2, readyTimeoutSeconds: 30 });
    assert.equal(summary.status, 'finished', summary.message);
    assert.ok(seconds < 15, `took ${seconds.toFixed(1)} s`);
    assert.deepEqual(summary.clients.find((c) => c.client_id === 'client-3'), { client_id: 'client-3', status: 'dropped', drop_reason: 'not ready when 2 clients were (start_when)' });
    assert.deepEqual(events.find((e) => e.name === 'fl_start_condition_met')?.payload, { training_uuid: summary.training_uuid, ready_clients: 2, start_when: 2 });
  });

  it('fails at the ready timeout when fewer than start_when clients are ready, naming both counts', async () => {
    const { summary, events } = await startWith({ startWhen: 3, minClients: 2, readyTimeoutSeconds: 1 });
    assert.equal(summary.status, 'failed');
    assert.equal(summary.message, 'only 2 of 3 clients became ready before the ready timeout, start_when is 3');
    assert.equal(events.some((e) => e.name === 'fl_start_condition_met'), false);
  });
});
