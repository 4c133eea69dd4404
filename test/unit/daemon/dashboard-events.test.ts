// What the dashboard hears from a server: request and refusal rates over the last minute, events stripped to public fields, the last client metrics of recent trainings.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DashboardEvents, type LiveEvent } from '../../../src/daemon/dashboard/dashboard-events.js';
import { AnweddolServer } from '../../../src/server/anweddol-server.js';
import { testServerKeyPair } from '../../helpers/test-keys.js';

describe('DashboardEvents', () => {
  let server: AnweddolServer;
  let now = 1_000_000;
  let events: DashboardEvents;
  let denyEveryone = false;
  const client = () => server.clientInfo('10.9.8.7', 40000, 'tcp');

  before(async () => {
    server = new AnweddolServer({ rsaKeyPair: await testServerKeyPair(), rsaWorkers: 0, ipFilter: () => !denyEveryone });
    events = new DashboardEvents(server, () => now);
  });
  after(() => events.close());

  it('counts the requests answered and the refusals of the last minute', async () => {
    const start = events.ratesPerMinute();
    await server.dispatch({ verb: 'STAT', parameters: {} }, client());
    await server.dispatch({ verb: 'STAT', parameters: {} }, client());
    denyEveryone = true;
    server.isAllowed('10.9.8.7');
    denyEveryone = false;
    assert.deepEqual(events.ratesPerMinute(), { requests: start.requests + 2, refusals: start.refusals + 1 });
  });

  it('forgets requests and refusals older than a minute', async () => {
    await server.dispatch({ verb: 'STAT', parameters: {} }, client());
    now += 60_001;
    assert.deepEqual(events.ratesPerMinute(), { requests: 0, refusals: 0 });
  });

  it('passes an event on with its public fields only: no address, container uuid or token', async () => {
    const heard: LiveEvent[] = [];
    const unsubscribe = events.subscribe((e) => heard.push(e));
    try {
      await server.emitEvent('fl_client_dropped', { training_uuid: 't', client_id: 'client-1', reason: 'gone', client: client(), container_uuid: randomUUID(), client_token: 'secret-token' });
    } finally {
      unsubscribe();
    }
    assert.deepEqual(heard, [{ event: 'fl_client_dropped', data: { training_uuid: 't', client_id: 'client-1', reason: 'gone' } }]);
  });

  it('keeps the last round\'s client metrics of the 20 newest trainings only', async () => {
    const trainings = Array.from({ length: 21 }, () => randomUUID());
    for (const [i, training] of trainings.entries()) await server.emitEvent('fl_round_completed', { training_uuid: training, round: i, client_metrics: { 'client-1': { accuracy: 0.5 } } });
    assert.equal(events.lastClientMetrics(trainings[0]!), undefined);
    assert.deepEqual(events.lastClientMetrics(trainings[20]!), { round: 20, metrics: { 'client-1': { accuracy: 0.5 } } });
  });
});
