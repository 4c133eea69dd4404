import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AnweddolDatabase } from '../../../src/database/database.js';
import { FlStore } from '../../../src/database/fl-store.js';
import { initialOptimizerState, type OptimizerState } from '../../../src/fl/strategy/fed-opt.js';
import { decodeOptimizerState, encodeOptimizerState } from '../../../src/fl/strategy/optimizer-state-file.js';
import { aggregateFit, configureFit, EVERY_CLIENT, STRATEGY_DEFAULTS, type StrategyConfig, type StrategyName } from '../../../src/fl/strategy/strategy.js';

// Every vector below: current = [0, 1], FedAvg of the updates = current + δ with δ = [0.5, −0.5], twice.
// Hand-computed, and cross-checked with numpy (python3, same formulas, float64):
//   FedAdam  (η 0.1, β1 0.9, β2 0.99, τ 0.05), rate_t = η·√(1−β2ᵗ)/(1−β1ᵗ):
//     t=1: m = 0.1·0.5 = 0.05, v = 0.01·0.25 = 0.0025, rate 0.1·0.1/0.1 = 0.1, step 0.1·0.05/(0.05+0.05) = 0.05 → [0.05, 0.95]
//     t=2: m = 0.095, v = 0.004975, rate 0.1·√0.0199/0.19 = 0.0742459 → step 0.0742459·0.095/(0.0705337+0.05) = 0.0585178 → [0.1085178, 0.8914822]
//   FedYogi  (same): t=1 as Adam (v = 0 − 0.01·0.25·sign(0 − 0.25) = 0.0025) → [0.05, 0.95]
//     t=2: v = 0.0025 + 0.0025 = 0.005, step 0.1·0.095/(0.0707107+0.05) = 0.0787006 → [0.1287006, 0.8712994]
//   FedAdagrad (η 0.1, τ 0.05): t=1: v = 0.25, step 0.1·0.5/(0.5+0.05) = 0.0909091 → [0.0909091, 0.9090909]
//     t=2: v = 0.5, step 0.1·0.5/(0.7071068+0.05) = 0.0660409 → [0.1569500, 0.8430500]
//   FedAvgM  (η 1, μ 0.9): t=1: m = −δ = [−0.5, 0.5] → current − m = [0.5, 0.5]
//     t=2: m = 0.9·(−0.5) − 0.5 = −0.95 → [1.45, −0.45]
const EXPECTED: Record<Exclude<StrategyName, 'fedavg' | 'fedprox'>, { options: StrategyConfig['options']; steps: [number[], number[]] }> = {
  fedadam: { options: { serverLearningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.05 }, steps: [[0.05, 0.95], [0.10851782, 0.89148218]] },
  fedyogi: { options: { serverLearningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.05 }, steps: [[0.05, 0.95], [0.12870058, 0.87129942]] },
  fedadagrad: { options: { serverLearningRate: 0.1, tau: 0.05 }, steps: [[0.09090909, 0.90909091], [0.15694997, 0.84305003]] },
  fedavgm: { options: { serverLearningRate: 1, serverMomentum: 0.9 }, steps: [[0.5, 0.5], [1.45, -0.45]] },
};

const DELTA = [0.5, -0.5];

/** One client whose update is current + δ: FedAvg of it is exactly that. */
function step(config: StrategyConfig, round: number, current: Float32Array, state: OptimizerState) {
  const weights = Float32Array.from(current, (x, i) => x + DELTA[i]!);
  const out = aggregateFit(config, round, current, [{ clientId: 'client-1', weights, sampleSize: 10 }], [], state, 1);
  assert.ok(out.ok);
  return out;
}

function assertClose(actual: Float32Array | Float64Array, expected: number[]): void {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i]! - e) < 1e-6, `index ${i}: ${actual[i]} ≠ ${e}`));
}

describe('server strategies', () => {
  for (const [name, { options, steps }] of Object.entries(EXPECTED)) {
    it(`${name} takes the hand-computed first and second server steps`, () => {
      const config = { name: name as StrategyName, options };
      const first = step(config, 1, Float32Array.from([0, 1]), initialOptimizerState());
      assertClose(first.params, steps[0]);
      const second = step(config, 2, first.params, first.state);
      assertClose(second.params, steps[1]);
      assert.equal(second.state.step, 2);
    });
  }

  it('leaves the optimizer state it was given untouched', () => {
    const config = { name: 'fedadam' as const, options: EXPECTED.fedadam.options };
    const first = step(config, 1, Float32Array.from([0, 1]), initialOptimizerState());
    const before = { m: Float64Array.from(first.state.m!), v: Float64Array.from(first.state.v!) };
    step(config, 2, first.params, first.state);
    assert.deepEqual(first.state.m, before.m);
    assert.deepEqual(first.state.v, before.v);
  });

  it('fedavg aggregates in client-id order whatever the arrival order', () => {
    const u = (id: string, w: number[], n: number) => ({ clientId: id, weights: Float32Array.from(w), sampleSize: n });
    const updates = [u('client-10', [0.1, 0.7], 3), u('client-2', [0.3, 0.2], 7), u('client-1', [0.9, 0.35], 1)];
    const a = aggregateFit({ name: 'fedavg', options: {} }, 1, new Float32Array(2), updates, [], initialOptimizerState(), 1);
    const b = aggregateFit({ name: 'fedavg', options: {} }, 1, new Float32Array(2), [...updates].reverse(), [], initialOptimizerState(), 1);
    assert.ok(a.ok && b.ok);
    // (3·0.1 + 7·0.3 + 1·0.9)/11 = 0.3, (3·0.7 + 7·0.2 + 1·0.35)/11 = 0.35
    assertClose(a.params, [0.3, 0.35]);
    assert.deepEqual(a.params, b.params);
  });

  it('hands back the failures instead of aggregating when fewer than min_fit_clients updates arrived', () => {
    const failures = [{ clientId: 'client-2', reason: 'no update before the round 1 deadline' }];
    const out = aggregateFit({ name: 'fedadam', options: STRATEGY_DEFAULTS.fedadam }, 1, new Float32Array(2),
      [{ clientId: 'client-1', weights: new Float32Array(2), sampleSize: 1 }], failures, initialOptimizerState(), 2);
    assert.deepEqual(out, { ok: false, reason: 'round 1: 1 update(s) received, min_fit_clients is 2', failures });
  });

  it('refuses a diverging server step instead of publishing non-finite weights', () => {
    const config = { name: 'fedavgm' as const, options: { serverLearningRate: 1e39, serverMomentum: 0 } };
    assert.throws(() => step(config, 1, Float32Array.from([0, 1]), initialOptimizerState()), /non-finite weight/);
  });

  it('asks every available client, in client-id order', () => {
    assert.deepEqual(configureFit(['client-10', 'client-2', 'client-1'], { ...EVERY_CLIENT, minFitClients: 1, seed: 0 }, 1), { asked: ['client-1', 'client-2', 'client-10'], aggregate: 3 });
  });
});

describe('client selection (--fraction, --overselect)', () => {
  const ten = Array.from({ length: 10 }, (_, i) => `client-${i + 1}`);

  it('samples ceil(C · n) clients, the same ones for the same seed and round', () => {
    const a = configureFit(ten, { fraction: 0.3, overselect: 1, minFitClients: 1, seed: 7 }, 2);
    assert.equal(a.asked.length, 3);
    assert.equal(a.aggregate, 3);
    assert.deepEqual(configureFit(ten, { fraction: 0.3, overselect: 1, minFitClients: 1, seed: 7 }, 2), a);
  });

  it('samples other clients in another round', () => {
    const rounds = [1, 2, 3, 4].map((r) => configureFit(ten, { fraction: 0.3, overselect: 1, minFitClients: 1, seed: 7 }, r).asked.join());
    assert.ok(new Set(rounds).size > 1, rounds.join(' | '));
  });

  it('never aggregates fewer than min_fit_clients', () => {
    assert.equal(configureFit(ten, { fraction: 0.1, overselect: 1, minFitClients: 4, seed: 0 }, 1).aggregate, 4);
  });

  it('does not round 0.7 · 10 up to 8', () => {
    assert.equal(configureFit(ten, { fraction: 0.7, overselect: 1, minFitClients: 1, seed: 0 }, 1).asked.length, 7);
  });

  it('asks ceil(F · K) clients and aggregates K of them', () => {
    const c = configureFit(ten, { fraction: 0.4, overselect: 1.5, minFitClients: 1, seed: 3 }, 1);
    assert.deepEqual([c.asked.length, c.aggregate], [6, 4]);
  });

  it('asks at most the available clients when over-selecting', () => {
    const c = configureFit(ten.slice(0, 3), { fraction: 0.5, overselect: 1.5, minFitClients: 2, seed: 3 }, 1);
    assert.deepEqual(c, { asked: ['client-1', 'client-2', 'client-3'], aggregate: 2 });
  });
});

describe('optimizer state in the FL store', () => {
  it('round-trips the moments bit for bit through the store', () => {
    const database = new AnweddolDatabase(':memory:');
    try {
      const store = new FlStore(database);
      store.createTraining('t1', {});
      const state = { step: 3, m: Float64Array.from([0.1, -1 / 3]), v: Float64Array.from([1e-300, 2]) };
      store.saveOptimizerState('t1', 3, encodeOptimizerState(state));
      store.saveOptimizerState('t1', 3, encodeOptimizerState(state));
      const row = store.optimizerState('t1')!;
      assert.equal(row.round, 3);
      assert.deepEqual(decodeOptimizerState(row.state), state);
    } finally {
      database.close();
    }
  });

  it('keeps a FedAvgM state without a second moment', () => {
    const state = { step: 1, m: Float64Array.from([0.5]), v: null };
    assert.deepEqual(decodeOptimizerState(encodeOptimizerState(state)), state);
  });
});
