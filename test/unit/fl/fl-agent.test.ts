import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlAgent } from '../../../src/fl/agent/fl-agent.js';
import type { AgentConfig } from '../../../src/fl/agent/agent-config.js';

const T = '0b6c1a52-9e43-4f4e-8f7e-3c2d1b0a9f88';
const M = '5f1d2c3b-4a59-4b68-9c7d-8e9fa0b1c2d3';
const TOKEN = 'agent-test-token-0123456789';

describe('FL agent HTTP endpoint', () => {
  let agent: FlAgent;
  let base: string;
  const logs: string[] = [];

  before(async () => {
    const config: AgentConfig = {
      trainingUuid: T, owner: 'client-1', token: TOKEN,
      // Port 9 on loopback: nothing listens, so background work fails fast and is only logged.
      coordinatorUrl: 'http://127.0.0.1:9', listenHost: '127.0.0.1', listenPort: 0, dataPath: '-',
      hyperparameters: { epochs: 1, learningRate: 0.1, batchSize: 4, mu: 0, seed: 1 },
    };
    agent = new FlAgent(config, { features: new Float32Array(4), labels: Int32Array.from([0, 1]), count: 2, dimensions: 2 }, (level, m) => logs.push(`${level} ${m}`));
    base = `http://127.0.0.1:${await agent.start()}`;
  });

  after(async () => {
    await agent.stop();
  });

  async function post(body: string, token = TOKEN): Promise<number> {
    const res = await fetch(`${base}/notifications/`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    return res.status;
  }

  it('answers 202 to a round notification and runs the trainer in the background', async () => {
    assert.equal(await post(JSON.stringify({ notification_type: 'UPDATE_ROUND_START', training_uuid: T, body: { round: 1, global_model_uuid: M } })), 202);
  });

  it('answers 400 to an unknown notification type', async () => {
    assert.equal(await post(JSON.stringify({ notification_type: 'REBOOT', training_uuid: T, body: {} })), 400);
  });

  it('answers 400 to a body that is not JSON', async () => {
    assert.equal(await post('{"notification_type":'), 400);
  });

  it('answers 401 to a wrong bearer token', async () => {
    assert.equal(await post(JSON.stringify({ notification_type: 'TRAINING_START', training_uuid: T }), 'nope'), 401);
  });

  it('answers 409 to a notification for another training', async () => {
    assert.equal(await post(JSON.stringify({ notification_type: 'TRAINING_START', training_uuid: M })), 409);
  });

  it('answers 200 to TRAINING_FINISHED and resolves its finished promise', async () => {
    assert.equal(await post(JSON.stringify({ notification_type: 'TRAINING_FINISHED', training_uuid: T })), 200);
    await agent.finished;
  });

  it('logs a failed trainer run without leaking the token', async () => {
    await agent.stop();
    assert.ok(logs.some((l) => l.startsWith('error train round 1 failed')), logs.join('\n'));
    assert.ok(logs.every((l) => !l.includes(TOKEN)));
  });
});
