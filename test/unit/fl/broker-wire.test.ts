// The FL broker messages: vectors in both directions, and every malformed upload named.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerWireError, decodeNotificationMessage, decodeUploadMessage, encodeNotificationMessage, encodeUploadMessage } from '../../../src/fl/agent/broker-wire.js';
import { parseNotification } from '../../../src/fl/agent/notification.js';

const TRAINING = '0b6c1f57-5d4a-4c1e-9a43-9d1f3f2a7e10';
const MODEL = '7d3e2c10-1b2a-4f5e-8c9d-0a1b2c3d4e5f';

describe('FL broker messages', () => {
  it('carries a round notification as headers with the global model as body', () => {
    const m = encodeNotificationMessage({ type: 'UPDATE_ROUND_START', trainingUuid: TRAINING, round: 2, globalModelUuid: MODEL }, 'tok', Buffer.from('model'));
    assert.equal(m.properties.type, 'notification');
    assert.equal(m.properties.headers!.authorization, 'Bearer tok');
    const d = decodeNotificationMessage(m);
    assert.deepEqual(parseNotification(d.raw), { type: 'UPDATE_ROUND_START', trainingUuid: TRAINING, round: 2, globalModelUuid: MODEL });
    assert.equal(d.token, 'tok');
    assert.equal(d.model!.toString(), 'model');
  });

  it('gives a notification without a model an empty body', () => {
    const d = decodeNotificationMessage(encodeNotificationMessage({ type: 'TRAINING_START', trainingUuid: TRAINING }, 'tok'));
    assert.equal(d.model, undefined);
  });

  it('refuses a message that is not a notification', () => {
    assert.throws(() => decodeNotificationMessage({ properties: { type: 'update', headers: {} }, body: Buffer.alloc(0) }), BrokerWireError);
  });

  it('round-trips an update with its fields, user id and model body', () => {
    const fields = { owner: 'client-1', round: '3', sample_size: '10', metric_names: '["train_loss"]', metric_values: '[0.5]' };
    const m = encodeUploadMessage('update', 'tok', MODEL, Buffer.from([1, 2, 3]), fields, 'agent-user');
    assert.equal(m.properties.userId, 'agent-user');
    assert.deepEqual(decodeUploadMessage(m), { kind: 'update', token: 'tok', target: MODEL, fields, body: Buffer.from([1, 2, 3]) });
  });

  it('keeps only the known update fields', () => {
    const m = encodeUploadMessage('update', 'tok', MODEL, Buffer.alloc(0), { owner: 'client-1', extra: 'x' });
    assert.deepEqual(decodeUploadMessage(m).fields, { owner: 'client-1' });
  });

  it('refuses an upload without a bearer token', () => {
    const m = encodeUploadMessage('metrics', 'tok', MODEL, Buffer.from('{}'));
    delete m.properties.headers!.authorization;
    assert.throws(() => decodeUploadMessage(m), /missing or invalid bearer token/);
  });

  it('refuses an unknown message type', () => {
    const m = encodeUploadMessage('metrics', 'tok', MODEL, Buffer.from('{}'));
    m.properties.type = 'delete\neverything';
    assert.throws(() => decodeUploadMessage(m), /unknown message type "delete\\neverything"/);
  });

  it('refuses a target that is not a uuid', () => {
    assert.throws(() => decodeUploadMessage(encodeUploadMessage('statistics', 'tok', '../x', Buffer.from('{}'))), /target must be a lowercase UUID/);
  });

  it('refuses an update field that is not a short string', () => {
    const m = encodeUploadMessage('update', 'tok', MODEL, Buffer.alloc(0));
    m.properties.headers!.round = 'x'.repeat(5000);
    assert.throws(() => decodeUploadMessage(m), /header round must be a short string/);
  });
});
