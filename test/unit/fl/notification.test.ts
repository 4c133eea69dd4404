import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeNotification, parseNotification } from '../../../src/fl/agent/notification.js';

const T = '0b6c1a52-9e43-4f4e-8f7e-3c2d1b0a9f88';
const M = '5f1d2c3b-4a59-4b68-9c7d-8e9fa0b1c2d3';

describe('agent notification parsing', () => {
  it('parses TRAINING_START without a body', () => {
    assert.deepEqual(parseNotification({ notification_type: 'TRAINING_START', training_uuid: T }), { type: 'TRAINING_START', trainingUuid: T });
  });

  it('parses UPDATE_ROUND_START with round and global model', () => {
    const n = parseNotification({ notification_type: 'UPDATE_ROUND_START', training_uuid: T, body: { round: 2, global_model_uuid: M } });
    assert.deepEqual(n, { type: 'UPDATE_ROUND_START', trainingUuid: T, round: 2, globalModelUuid: M });
  });

  it('round-trips every type through the wire form', () => {
    for (const n of [
      { type: 'TRAINING_START', trainingUuid: T },
      { type: 'UPDATE_ROUND_START', trainingUuid: T, round: 1, globalModelUuid: M },
      { type: 'MODEL_TEST_ROUND', trainingUuid: T, round: 4, globalModelUuid: M },
      { type: 'TRAINING_FINISHED', trainingUuid: T },
    ] as const) {
      assert.deepEqual(parseNotification(JSON.parse(JSON.stringify(encodeNotification(n)))), n);
    }
  });

  it('refuses an unknown notification type', () => {
    assert.throws(() => parseNotification({ notification_type: 'REBOOT', training_uuid: T, body: {} }), /unknown notification_type 'REBOOT'/);
  });

  it('refuses a round notification without a valid round or model uuid', () => {
    assert.throws(() => parseNotification({ notification_type: 'MODEL_TEST_ROUND', training_uuid: T, body: { global_model_uuid: M } }), /body.round/);
    assert.throws(() => parseNotification({ notification_type: 'MODEL_TEST_ROUND', training_uuid: T, body: { round: 1.5, global_model_uuid: M } }), /body.round/);
    assert.throws(() => parseNotification({ notification_type: 'UPDATE_ROUND_START', training_uuid: T, body: { round: 1, global_model_uuid: 'x' } }), /global_model_uuid/);
  });

  it('refuses non-objects, a bad training uuid and a non-object body', () => {
    assert.throws(() => parseNotification([]), /JSON object/);
    assert.throws(() => parseNotification('x'), /JSON object/);
    assert.throws(() => parseNotification({ notification_type: 'TRAINING_START', training_uuid: T.toUpperCase() }), /training_uuid/);
    assert.throws(() => parseNotification({ notification_type: 'TRAINING_START', training_uuid: T, body: [1] }), /body must be an object/);
    assert.throws(() => parseNotification({ training_uuid: T }), /notification_type must be a string/);
  });
});
