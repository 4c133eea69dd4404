// The RabbitMQ transport against a real private broker: the same chain as REST (verbs, events, tokens, limits), poison messages, an independent client.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import type { AnweddolAmqpClient } from '../../src/client/amqp-client.js';
import { AnweddolServer, type AnweddolServerOptions } from '../../src/server/anweddol-server.js';
import type { AmqpTransport } from '../../src/server/amqp/amqp-transport.js';
import type { ClientInfo } from '../../src/server/types.js';
import { amqpClient, amqpTransportFor, uniqueQueue } from '../helpers/amqp-server.js';
import { REPO } from '../helpers/docker-sandbox.js';
import { startRabbitmqBroker, type RabbitmqBroker } from '../helpers/rabbitmq-broker.js';
import { testServerKeyPair } from '../helpers/test-keys.js';
import { until } from '../helpers/until.js';

let broker: RabbitmqBroker;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  broker = await startRabbitmqBroker();
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await broker?.close();
});

interface BrokerServer {
  server: AnweddolServer;
  transport: AmqpTransport;
  queue: string;
  client: AnweddolAmqpClient;
}

/** A server with only the broker transport, consuming a queue of its own, and a client for it; stopped after the file. */
async function startBrokerServer(name: string, options: Partial<AnweddolServerOptions> = {}, setup?: (server: AnweddolServer) => void): Promise<BrokerServer> {
  const server = new AnweddolServer({ rsaKeyPair: await testServerKeyPair(), enableTcp: false, rsaWorkers: 0, ...options });
  setup?.(server);
  const queue = uniqueQueue(name);
  const transport = amqpTransportFor(server, broker.url, queue, { maxMessageSize: 4096 });
  server.addTransport(transport);
  await server.start();
  cleanups.push(() => server.stop());
  await transport.whenConsuming();
  const client = await amqpClient(broker.url, queue);
  cleanups.push(() => client.close());
  return { server, transport, queue, client };
}

/** Messages waiting in a queue (ready, not delivered). */
async function queueDepth(queue: string): Promise<number> {
  const connection = await amqp.connect(broker.url);
  try {
    return (await (await connection.createChannel()).checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

describe('AMQP transport: the request chain', () => {
  let s: BrokerServer;
  const accepted: ClientInfo[] = [];
  const closed: string[] = [];
  before(async () => {
    s = await startBrokerServer('chain', {}, (server) => {
      server.on('connection_accepted', ({ client }) => void accepted.push(client));
      server.on('client_closed', ({ state }) => void closed.push(state));
      server.setRequestHandler('HELLO', (request, ctx) => ({ success: true, message: 'OK', data: { hello: request.parameters.name, transport: ctx.client.transport } }));
    });
  });

  it('answers STAT to reply_to with the correlation id', async () => {
    const response = await s.client.stat();
    assert.equal(response.message, 'OK');
    assert.equal(typeof (response.data as { uptime: unknown }).uptime, 'number');
  });

  it('serves a custom verb registered with setRequestHandler', async () => {
    const response = await s.client.request('HELLO', { name: 'broker' });
    assert.deepEqual(response.data, { hello: 'broker', transport: 'amqp' });
  });

  it('answers an unknown verb Bad request (Unhandled verb)', async () => {
    assert.equal((await s.client.request('NOSUCHVERB')).message, 'Bad request (Unhandled verb)');
  });

  it('announces each request as a client of transport amqp, accepted then closed', async () => {
    accepted.length = 0;
    closed.length = 0;
    await s.client.stat();
    assert.equal(accepted.length, 1);
    assert.equal(accepted[0]!.transport, 'amqp');
    assert.equal(accepted[0]!.address, 'amqp:anonymous');
    await until(() => closed.length === 1, 10_000);
    assert.deepEqual(closed, ['Responded']);
  });

  it('answers requests sent at once, each to its own correlation id', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `n${i}`);
    const answers = await Promise.all(names.map((name) => s.client.request('HELLO', { name })));
    assert.deepEqual(
      answers.map((a) => (a.data as { hello: string }).hello),
      names,
    );
  });

  it('answers a python3-pika client (an independent AMQP implementation)', async () => {
    // Asynchronously: the server answering it runs in this process.
    const { stdout } = await promisify(execFile)('/usr/bin/python3', [join(REPO, 'test/fixtures/pika-stat.py'), broker.url, s.queue], { encoding: 'utf8', timeout: 60_000 });
    const response = JSON.parse(stdout) as { success: boolean; message: string; data: { version: string } };
    assert.equal(response.message, 'OK');
    assert.equal(typeof response.data.version, 'string');
  });
});

describe('AMQP transport: server lifecycle', () => {
  it('stops consuming when the server stops and consumes again when it starts', async () => {
    const s = await startBrokerServer('lifecycle');
    await s.server.stop();
    const parked = s.client.send('STAT');
    const correlationId = await parked;
    // Nobody consumes while stopped: the request waits in the queue.
    await until(async () => (await queueDepth(s.queue)) === 1, 10_000);
    await s.server.start();
    await s.transport.whenConsuming();
    assert.equal((await s.client.reply(correlationId)).message, 'OK');
  });
});

describe('AMQP transport: poison messages', () => {
  let s: BrokerServer;
  before(async () => {
    s = await startBrokerServer('poison');
  });

  const cases: Array<[string, 'not_json' | 'no_reply_to' | 'no_correlation_id' | 'too_large', Buffer, { replyTo?: string; correlationId?: string }]> = [
    ['a body that is not JSON', 'not_json', Buffer.from('{"verb": STAT'), { correlationId: 'c1' }],
    ['a message without reply_to', 'no_reply_to', Buffer.from('{"verb":"STAT","parameters":{}}'), { correlationId: 'c2' }],
    ['a message without correlation_id', 'no_correlation_id', Buffer.from('{"verb":"STAT","parameters":{}}'), {}],
    ['a body over the size limit', 'too_large', Buffer.from(JSON.stringify({ verb: 'STAT', parameters: { pad: 'x'.repeat(5000) } })), { correlationId: 'c4' }],
  ];
  for (const [what, reason, body, properties] of cases) {
    it(`rejects ${what} without requeue and counts it as ${reason}`, async () => {
      const before = s.server.getRuntimeStatistics().poisonMessages[reason];
      const replyTo = reason === 'no_reply_to' ? undefined : s.client.replyQueue;
      await s.client.publishRaw(body, { ...properties, replyTo });
      await until(() => s.server.getRuntimeStatistics().poisonMessages[reason] === before + 1, 10_000);
      // Rejected, not requeued: the queue is empty and nothing comes back, and the next request is served.
      assert.equal(await queueDepth(s.queue), 0);
      assert.equal((await s.client.stat()).message, 'OK');
      assert.equal(s.server.getRuntimeStatistics().poisonMessages[reason], before + 1);
    });
  }

  it('never answers into its own request queue', async () => {
    const before = s.server.getRuntimeStatistics().poisonMessages.no_reply_to;
    await s.client.publishRaw(Buffer.from('{"verb":"STAT","parameters":{}}'), { correlationId: 'loop', replyTo: s.queue });
    await until(() => s.server.getRuntimeStatistics().poisonMessages.no_reply_to === before + 1, 10_000);
    assert.equal(await queueDepth(s.queue), 0);
  });

  it('answers a JSON body that is not a request Bad request, as REST does', async () => {
    const correlationId = 'not-a-request';
    const answer = s.client.reply(correlationId);
    await s.client.publishRaw(Buffer.from('[1,2,3]'), { correlationId, replyTo: s.client.replyQueue });
    assert.match((await answer).message, /^Bad request/);
  });
});

describe('AMQP transport: access tokens', () => {
  let s: BrokerServer;
  const good = 'token-good-0123456789';
  const other = 'token-other-0123456789';
  let release: () => void = () => {};
  before(async () => {
    s = await startBrokerServer('tokens', { accessTokens: { verify: (t) => t === good || t === other }, maxConnectionsPerClient: 1 }, (server) => {
      // Held until the test lets it go: a request in progress counts against its client's connection cap.
      server.setRequestHandler('HOLD', () => new Promise((resolve) => (release = () => resolve({ success: true, message: 'OK', data: {} }))));
    });
  });

  it('answers a request without a token Bad request (Access token is required)', async () => {
    assert.equal((await s.client.stat()).message, 'Bad request (Access token is required)');
  });

  it('answers a wrong token Bad authentication', async () => {
    assert.equal((await s.client.stat({ access_token: 'nope' })).message, 'Bad authentication (Invalid access token)');
  });

  it('serves a request carrying a valid token', async () => {
    assert.equal((await s.client.stat({ access_token: good })).message, 'OK');
  });

  it('keys the per-client limits on the access token: one token at its cap does not block another', async () => {
    const held = s.client.request('HOLD', { access_token: good });
    await until(() => s.server.getRuntimeStatistics().connectionsServed > 0 && release !== undefined, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await s.client.stat({ access_token: good })).message, 'Refused request (max_connections_per_client)');
    assert.equal((await s.client.stat({ access_token: other })).message, 'OK');
    release();
    assert.equal((await held).message, 'OK');
    assert.equal((await s.client.stat({ access_token: good })).message, 'OK');
  });
});
