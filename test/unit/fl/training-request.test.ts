import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeTrainingRequest, normalizeTrainingRequest, type TrainingRequestInput } from '../../../src/fl/coordinator/training-request.js';

const BASE: TrainingRequestInput = { clients: 2, rounds: 3, dataset: 'data.csv' };

describe('training request: strategy and stop conditions', () => {
  it('defaults to fedavg, or fedprox when mu > 0', () => {
    assert.deepEqual(normalizeTrainingRequest(BASE).strategy, { name: 'fedavg', options: {} });
    assert.deepEqual(normalizeTrainingRequest({ ...BASE, mu: 0.01 }).strategy, { name: 'fedprox', options: {} });
  });

  it('fills in Flower\'s defaults for each adaptive strategy', () => {
    assert.deepEqual(normalizeTrainingRequest({ ...BASE, strategy: 'fedadam' }).strategy.options, { serverLearningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-9 });
    assert.deepEqual(normalizeTrainingRequest({ ...BASE, strategy: 'fedyogi' }).strategy.options, { serverLearningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
    assert.deepEqual(normalizeTrainingRequest({ ...BASE, strategy: 'fedadagrad' }).strategy.options, { serverLearningRate: 0.1, tau: 1e-9 });
    assert.deepEqual(normalizeTrainingRequest({ ...BASE, strategy: 'fedavgm' }).strategy.options, { serverLearningRate: 1, serverMomentum: 0 });
  });

  it('stores the strategy and its options with the request', () => {
    const d = describeTrainingRequest(normalizeTrainingRequest({ ...BASE, strategy: 'fedavgm', serverMomentum: 0.9, targetAccuracy: 0.95, patience: 3 }));
    assert.equal(d.strategy, 'fedavgm');
    assert.equal(d.server_momentum, 0.9);
    assert.equal(d.server_lr, 1);
    assert.equal(d.target_accuracy, 0.95);
    assert.equal(d.patience, 3);
  });

  const refusals: Array<[string, Partial<TrainingRequestInput>, RegExp]> = [
    ['an unknown strategy', { strategy: 'fedsgd' as never }, /^strategy must be one of fedavg, fedprox, fedavgm, fedadam, fedyogi, fedadagrad, got fedsgd$/],
    ['fedprox without mu', { strategy: 'fedprox' }, /^strategy fedprox needs mu > 0/],
    ['fedavg with mu', { strategy: 'fedavg', mu: 0.1 }, /^fedavg with mu > 0 is fedprox/],
    ['an option the strategy does not take', { strategy: 'fedavg', beta1: 0.5 }, /^beta1 applies to fedadam, fedyogi, not to fedavg$/],
    ['momentum for fedadam', { strategy: 'fedadam', serverMomentum: 0.9 }, /^server-momentum applies to fedavgm, not to fedadam$/],
    ['beta2 of 1', { strategy: 'fedadam', beta2: 1 }, /^beta2 must be in \[0, 1\), got 1$/],
    ['a negative server learning rate', { strategy: 'fedyogi', serverLearningRate: -1 }, /^server-lr must be a number > 0, got -1$/],
    ['tau of 0', { strategy: 'fedadagrad', tau: 0 }, /^tau must be a number > 0, got 0$/],
    ['a target accuracy above 1', { targetAccuracy: 95 }, /^target accuracy must be in \(0, 1\], got 95$/],
    ['a patience of 0', { patience: 0 }, /^patience must be an integer in 1\.\.1000, got 0$/],
  ];
  for (const [what, input, message] of refusals) {
    it(`refuses ${what} with a message naming it`, () => {
      assert.throws(() => normalizeTrainingRequest({ ...BASE, ...input }), (e: Error) => e instanceof RangeError && message.test(e.message));
    });
  }
});

describe('training request: start_when', () => {
  it('refuses a start_when below min_clients or above the client count', () => {
    assert.throws(() => normalizeTrainingRequest({ ...BASE, clients: 4, minClients: 3, startWhen: 2 }), /^RangeError: start when must be an integer in 3\.\.4, got 2$/);
    assert.throws(() => normalizeTrainingRequest({ ...BASE, clients: 4, startWhen: 5 }), /start when must be an integer in 4\.\.4, got 5/);
  });
});

describe('training request: deadline', () => {
  it('defaults the deadline to 180 s of provisioning, the ready timeout and two round timeouts for each round and round 0', () => {
    assert.equal(normalizeTrainingRequest(BASE).deadlineSeconds, 180 + 60 + 2 * 4 * 60);
    assert.equal(normalizeTrainingRequest({ ...BASE, readyTimeoutSeconds: 5, roundTimeoutSeconds: 10 }).deadlineSeconds, 180 + 5 + 2 * 4 * 10);
  });

  it('keeps a given deadline and stores it with the request', () => {
    const r = normalizeTrainingRequest({ ...BASE, deadlineSeconds: 90 });
    assert.equal(r.deadlineSeconds, 90);
    assert.equal(describeTrainingRequest(r).deadline, 90);
  });

  it('refuses a deadline that is not a number > 0 with a message naming it', () => {
    assert.throws(() => normalizeTrainingRequest({ ...BASE, deadlineSeconds: 0 }), /^RangeError: deadline must be a number > 0, got 0$/);
    assert.throws(() => normalizeTrainingRequest({ ...BASE, deadlineSeconds: Infinity }), /deadline must be a number > 0, got Infinity/);
  });
});

describe('training request: per-client data', () => {
  const CLIENT_DATA: TrainingRequestInput = { rounds: 3, clientData: ['a.csv', 'b.csv', 'c.csv'] };

  it('takes one client per file when the client count is not given', () => {
    const r = normalizeTrainingRequest(CLIENT_DATA);
    assert.equal(r.clients, 3);
    assert.equal(r.testData, null);
    assert.deepEqual(describeTrainingRequest(r).client_data, ['a.csv', 'b.csv', 'c.csv']);
  });

  const refusals: Array<[string, TrainingRequestInput, RegExp]> = [
    ['both a dataset and client data', { ...CLIENT_DATA, dataset: 'data.csv' }, /^give either a dataset or client data, not both$/],
    ['a client count other than the number of files', { ...CLIENT_DATA, clients: 2 }, /^clients is 2 but 3 client data file\(s\) were given$/],
    ['a split with client data', { ...CLIENT_DATA, split: 'dirichlet:0.5' }, /^split applies to a dataset/],
    ['test data without client data', { ...BASE, testData: 't.csv' }, /^test data goes with client data/],
    ['an empty client data list', { ...BASE, clientData: [] }, /^client data needs at least one file$/],
  ];
  for (const [what, input, message] of refusals) {
    it(`refuses ${what} with a message naming it`, () => {
      assert.throws(() => normalizeTrainingRequest(input), (e: Error) => e instanceof RangeError && message.test(e.message));
    });
  }
});
