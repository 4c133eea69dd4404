// A training's broker names, agent URLs, per-client users and the agent config's broker section.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { validateAgentConfig } from '../../../src/fl/agent/agent-config.js';
import { agentUrlFor, brokerPortOf, brokerRoute, defaultAgentUrl, passwordHash, userDefinitions, vhostOf } from '../../../src/fl/coordinator/broker-route.js';

const NONCE = '0123456789abcdef0123456789abcdef';

describe('FL broker route', () => {
  it('names a training exchange pair, a coordinator queue and one queue per client under an unguessable prefix', () => {
    const r = brokerRoute(NONCE, ['client-1', 'client-2']);
    assert.equal(r.notifyExchange, `anweddol.fl.${NONCE}.notify`);
    assert.equal(r.uploadExchange, `anweddol.fl.${NONCE}.upload`);
    assert.equal(r.coordinatorQueue, `anweddol.fl.${NONCE}.coordinator`);
    assert.deepEqual([...r.clients.values()].map((c) => c.queue), [`anweddol.fl.${NONCE}.client.client-1`, `anweddol.fl.${NONCE}.client.client-2`]);
    assert.equal(r.clients.get('client-1')!.user, undefined);
  });

  it('gives each client a user that reads its own queue, writes the upload exchange and configures nothing', () => {
    const r = brokerRoute(NONCE, ['client-1', 'client-2'], () => 'pw');
    const u = r.clients.get('client-1')!.user!;
    assert.equal(u.configure, '^$');
    assert.equal(u.write, `^anweddol\\.fl\\.${NONCE}\\.upload$`);
    assert.equal(u.read, `^anweddol\\.fl\\.${NONCE}\\.client\\.client-1$`);
    const read = new RegExp(u.read);
    assert.equal(read.test(r.clients.get('client-2')!.queue), false);
    assert.equal(read.test(r.coordinatorQueue), false);
    assert.notEqual(u.name, r.clients.get('client-2')!.user!.name);
  });

  it('refuses a nonce that is not 128 random bits in hex', () => {
    assert.throws(() => brokerRoute('abc', ['client-1']), /nonce/);
  });

  it('refuses a client id that could widen a permission pattern', () => {
    assert.throws(() => brokerRoute(NONCE, ['client.*']), /invalid client id/);
  });

  it('moves the daemon URL to the gateway without its credentials', () => {
    assert.equal(defaultAgentUrl('amqp://admin:secret@127.0.0.1:5673/prod', '10.231.0.1'), 'amqp://10.231.0.1:5673/prod');
  });

  it('puts a client user into the agent URL, escaped', () => {
    assert.equal(agentUrlFor('amqp://10.231.0.1:5673/', { name: 'u-1', password: 'a/b', configure: '', write: '', read: '' }), 'amqp://u-1:a%2Fb@10.231.0.1:5673/');
  });

  it('reads the vhost and the port of a URL', () => {
    assert.equal(vhostOf('amqp://h:1/'), '/');
    assert.equal(vhostOf('amqp://h:1/%2Ffl'), '/fl');
    assert.equal(brokerPortOf('amqp://h/'), 5672);
    assert.equal(brokerPortOf('amqps://h/'), 5671);
    assert.equal(brokerPortOf('amqp://h:5700/'), 5700);
  });

  it("hashes passwords as RabbitMQ's sha256 scheme: salt, then sha256(salt ‖ password)", () => {
    const salt = Buffer.from([1, 2, 3, 4]);
    const raw = Buffer.from(passwordHash('pw', salt), 'base64');
    assert.deepEqual(raw.subarray(0, 4), salt);
    assert.deepEqual(raw.subarray(4), createHash('sha256').update(Buffer.concat([salt, Buffer.from('pw')])).digest());
  });

  it('writes users, their permissions and limits as one definitions document without any password', () => {
    const r = brokerRoute(NONCE, ['client-1'], () => 'secret-pw');
    const d = userDefinitions([r.clients.get('client-1')!.user!], '/', () => Buffer.alloc(4));
    assert.equal(JSON.stringify(d).includes('secret-pw'), false);
    assert.deepEqual((d.permissions as unknown[])[0], { user: `anweddol-fl-${NONCE.slice(0, 12)}-client-1`, vhost: '/', configure: '^$', write: r.clients.get('client-1')!.user!.write, read: r.clients.get('client-1')!.user!.read });
    assert.deepEqual((d.users as Array<{ limits: unknown }>)[0]!.limits, { 'max-connections': 2, 'max-channels': 4 });
  });

  it('refuses an agent config that combines the broker with an external trainer', () => {
    const base = { trainingUuid: 't', owner: 'o', token: 'k', coordinatorUrl: 'http://x', listenHost: '0.0.0.0', listenPort: 0, dataPath: '/d', hyperparameters: { epochs: 1, learningRate: 0.1, batchSize: 8, mu: 0, seed: 1 } };
    const broker = { url: 'amqp://u:p@10.0.0.1/', queue: 'q', exchange: 'e' };
    assert.equal(validateAgentConfig({ ...base, broker }).broker!.queue, 'q');
    assert.throws(() => validateAgentConfig({ ...base, broker, trainer: { executor: 'python3', script: 's', timeoutSeconds: 5 } }), /external trainer/);
    assert.throws(() => validateAgentConfig({ ...base, broker: { ...broker, url: 'http://x' } }), /amqp/);
  });
});
