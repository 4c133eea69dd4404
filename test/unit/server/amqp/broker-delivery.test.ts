// What a broker message means to the AMQP transport: poison checks in order, the idempotency key, the client identity.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANONYMOUS_BROKER_CLIENT, brokerClientAddress, deliveryKey, parseDelivery } from '../../../../src/server/amqp/broker-delivery.js';

const limits = { maxMessageSize: 64, requestQueue: 'anweddol.requests' };
const body = Buffer.from('{"verb":"STAT","parameters":{}}');

describe('parseDelivery', () => {
  it('accepts a JSON body with reply_to and correlation_id, keyed by all three', () => {
    const parsed = parseDelivery({ body, replyTo: 'r', correlationId: 'c' }, limits);
    assert.deepEqual(parsed, { ok: true, request: { verb: 'STAT', parameters: {} }, replyTo: 'r', correlationId: 'c', key: deliveryKey('r', 'c', body) });
  });

  it('calls a body over the limit too_large before reading anything else', () => {
    assert.deepEqual(parseDelivery({ body: Buffer.alloc(65, 0x7b), replyTo: undefined, correlationId: undefined }, limits), { ok: false, reason: 'too_large' });
  });

  it('calls a missing, empty or over-long reply_to no_reply_to', () => {
    for (const replyTo of [undefined, '', 'q'.repeat(256), 42]) {
      assert.deepEqual(parseDelivery({ body, replyTo, correlationId: 'c' }, limits), { ok: false, reason: 'no_reply_to' });
    }
  });

  it('calls a reply_to naming the request queue no_reply_to', () => {
    assert.deepEqual(parseDelivery({ body, replyTo: 'anweddol.requests', correlationId: 'c' }, limits), { ok: false, reason: 'no_reply_to' });
  });

  it('calls a missing correlation_id no_correlation_id', () => {
    assert.deepEqual(parseDelivery({ body, replyTo: 'r', correlationId: undefined }, limits), { ok: false, reason: 'no_correlation_id' });
  });

  it('calls a body that is not JSON not_json', () => {
    assert.deepEqual(parseDelivery({ body: Buffer.from('{"verb":'), replyTo: 'r', correlationId: 'c' }, limits), { ok: false, reason: 'not_json' });
  });
});

describe('deliveryKey', () => {
  it('differs when the reply address differs, so a reused correlation id answers nobody else', () => {
    assert.notEqual(deliveryKey('victim', 'c', body), deliveryKey('stranger', 'c', body));
  });

  it('differs when the body differs', () => {
    assert.notEqual(deliveryKey('r', 'c', body), deliveryKey('r', 'c', Buffer.from('{}')));
  });
});

describe('brokerClientAddress', () => {
  const withToken = (token: unknown) => ({ verb: 'STAT', parameters: { access_token: token } });

  it('gives every client one shared identity when tokens are off, whatever token it sends', () => {
    assert.equal(brokerClientAddress(withToken('a'), false), ANONYMOUS_BROKER_CLIENT);
    assert.equal(brokerClientAddress(withToken('b'), false), ANONYMOUS_BROKER_CLIENT);
  });

  it('gives each token its own identity when tokens are required, without the token in it', () => {
    const a = brokerClientAddress(withToken('secret-token-a'), true);
    assert.match(a, /^amqp:token:[0-9a-f]{32}$/);
    assert.notEqual(a, brokerClientAddress(withToken('secret-token-b'), true));
    assert.equal(a.includes('secret'), false);
  });

  it('treats a request without a string token as anonymous', () => {
    assert.equal(brokerClientAddress({ verb: 'STAT', parameters: {} }, true), ANONYMOUS_BROKER_CLIENT);
    assert.equal(brokerClientAddress(withToken(7), true), ANONYMOUS_BROKER_CLIENT);
    assert.equal(brokerClientAddress('junk', true), ANONYMOUS_BROKER_CLIENT);
  });
});
