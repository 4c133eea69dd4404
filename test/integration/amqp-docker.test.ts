// Sandboxes over the broker end to end: real broker, real dockerd, SSH login; a broker restart mid-CREATE loses no request and makes no second sandbox.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AnweddolAmqpClient } from '../../src/client/amqp-client.js';
import type { AmqpTransport } from '../../src/server/amqp/amqp-transport.js';
import { amqpClient, amqpTransportFor, uniqueQueue } from '../helpers/amqp-server.js';
import { containersOf, dockerHost, SANDBOX_IMAGE, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';
import { startRabbitmqBroker, type RabbitmqBroker } from '../helpers/rabbitmq-broker.js';
import { startSandboxServer, type CreatedData, type SandboxServer } from '../helpers/sandbox-server.js';

const serverId = uniqueServerId('amqp');
const dir = mkdtempSync(join(tmpdir(), 'anweddol-amqp-'));
const queue = uniqueQueue('docker');
let broker: RabbitmqBroker;
let s: SandboxServer;
let transport: AmqpTransport;
let client: AnweddolAmqpClient;
/** Set by a test to act inside the next CREATE, once its sandbox exists and before it is answered. */
let insideCreate: (() => Promise<void>) | undefined;

before(async () => {
  broker = await startRabbitmqBroker();
  s = await startSandboxServer({
    databaseFile: join(dir, 'anweddol.db'),
    destroyOnStop: true,
    // The shared dockerd takes minutes per `docker run` under load: the bounds are the machine's, not the transport's.
    // Errors and warnings on stderr: a failure under load says what the server saw.
    serverOptions: { createTimeoutMs: 240_000, logger: { error: (m) => console.error(`server error: ${m}`), warn: (m) => console.error(`server warn: ${m}`), info: () => {}, debug: () => {} } },
    backend: { dockerHost: dockerHost(), image: SANDBOX_IMAGE, serverId },
    beforeStart: (server) => {
      transport = amqpTransportFor(server, broker.url, queue);
      server.addTransport(transport);
      server.on('created_container', async () => {
        const act = insideCreate;
        insideCreate = undefined;
        await act?.();
      });
    },
  });
  await transport.whenConsuming();
  client = await amqpClient(broker.url, queue, { timeoutMs: 300_000 });
});

after(async () => {
  await client?.close();
  await s?.stop();
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(containersOf(serverId), [], 'sandboxes left behind');
});

async function loginWorks(data: CreatedData): Promise<void> {
  const result = await sshRun(data.container_listen_port, data.container_username, data.container_password, 'id -un', 60_000);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), data.container_username);
}

describe('AMQP transport with Docker sandboxes', () => {
  it('creates a sandbox reachable over SSH, then destroys it', async () => {
    const created = await client.create();
    assert.equal(created.message, 'OK');
    const data = created.data as unknown as CreatedData;
    await loginWorks(data);
    assert.equal(containersOf(serverId).length, 1);
    const destroyed = await client.destroy(data.container_uuid, data.client_token);
    assert.equal(destroyed.message, 'OK');
    assert.deepEqual(containersOf(serverId), []);
  });

  it('answers every request in flight across a broker restart and makes one sandbox for a CREATE it interrupted', async () => {
    // Durable reply queue: the answers wait there while this client's connection is gone.
    const replyQueue = uniqueQueue('replies');
    const first = await amqpClient(broker.url, queue, { replyQueue });
    let stopped!: () => void;
    const brokerStopped = new Promise<void>((resolve) => (stopped = resolve));
    // A second request held in the handler until the broker is down: its answer cannot be sent either.
    s.server.setRequestHandler('WAIT', async () => {
      await brokerStopped;
      return { success: true, message: 'OK', data: { waited: true } };
    });
    insideCreate = async () => {
      await broker.stop();
      stopped();
    };
    const createId = await first.send('CREATE');
    const waitId = await first.send('WAIT');
    await brokerStopped;
    await first.close();
    await broker.start();
    const second = await amqpClient(broker.url, queue, { replyQueue, timeoutMs: 300_000 });
    try {
      const [created, waited] = await Promise.all([second.reply(createId), second.reply(waitId)]);
      assert.equal(waited.message, 'OK');
      assert.deepEqual(waited.data, { waited: true });
      assert.equal(created.message, 'OK');
      const data = created.data as unknown as CreatedData;
      assert.equal(containersOf(serverId).length, 1, 'the redelivered CREATE made a second sandbox');
      await loginWorks(data);
      assert.equal((await second.destroy(data.container_uuid, data.client_token)).message, 'OK');
      assert.deepEqual(containersOf(serverId), []);
    } finally {
      await second.close();
    }
  });
});
