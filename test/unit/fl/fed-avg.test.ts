import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fedAvg, fedAvgUsesSimd } from '../../../src/fl/model/fed-avg.js';
import { Prng } from '../../../src/fl/model/prng.js';

function naive(updates: { weights: Float32Array; sampleSize: number }[]): Float64Array {
  const total = updates.reduce((n, u) => n + u.sampleSize, 0);
  const out = new Float64Array(updates[0]!.weights.length);
  for (const u of updates) for (let i = 0; i < out.length; i++) out[i] = out[i]! + (u.sampleSize / total) * u.weights[i]!;
  return out;
}

describe('fedAvg', () => {
  it('weights each client by its sample size', () => {
    const out = fedAvg([
      { weights: Float32Array.from([1, 10]), sampleSize: 1 },
      { weights: Float32Array.from([4, 40]), sampleSize: 3 },
    ]);
    assert.deepEqual(Array.from(out), [3.25, 32.5]);
  });

  it('matches a naive float64 weighted mean for 1 to 11 clients', () => {
    const prng = new Prng(5);
    for (let clients = 1; clients <= 11; clients++) {
      const updates = Array.from({ length: clients }, () => ({
        weights: Float32Array.from({ length: 37 }, () => prng.normal()),
        sampleSize: 1 + prng.nextInt(100),
      }));
      const got = fedAvg(updates);
      const want = naive(updates);
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-5, `${clients} clients, index ${i}`);
    }
  });

  it('matches the naive mean on vectors long enough for the SIMD path, tail included', () => {
    const prng = new Prng(8);
    const n = 3 * 16384 + 4099; // several blocks and a length that is not a multiple of four
    const updates = Array.from({ length: 10 }, () => ({
      weights: Float32Array.from({ length: n }, () => prng.normal()),
      sampleSize: 1 + prng.nextInt(500),
    }));
    const got = fedAvg(updates, new Float32Array(n).fill(NaN));
    const want = naive(updates);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    assert.ok(worst < 1e-5, `max error ${worst}`);
    assert.equal(fedAvgUsesSimd(), true, 'Node 20 has WebAssembly SIMD');
  });

  it('writes into a caller-supplied output buffer', () => {
    const out = Float32Array.from([NaN, 99]);
    const r = fedAvg([{ weights: Float32Array.from([2, 4]), sampleSize: 5 }], out);
    assert.equal(r, out);
    assert.deepEqual(Array.from(out), [2, 4]);
  });

  it('refuses updates of different lengths, empty input and non-positive sample sizes', () => {
    assert.throws(() => fedAvg([]), /at least one update/);
    assert.throws(() => fedAvg([{ weights: new Float32Array(2), sampleSize: 1 }, { weights: new Float32Array(3), sampleSize: 1 }]), /3 weights, expected 2/);
    assert.throws(() => fedAvg([{ weights: new Float32Array(2), sampleSize: 0 }]), /sample size/);
  });
});
