// FL agents over a real private broker (in-process agents): same model as HTTP, and what a hostile agent's broker user cannot do.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import amqp, { type ChannelModel } from 'amqplib';
import type { AgentBrokerConfig } from '../../src/fl/agent/agent-config.js';
import { encodeUploadMessage, type UploadKind } from '../../src/fl/agent/broker-wire.js';
import type { AgentLaunch, ClientHost, LaunchedClient } from '../../src/fl/coordinator/client-host.js';
import { AnweddolDatabase } from '../../src/database/database.js';
import { FlStore } from '../../src/database/fl-store.js';
import { FlCoordinator, type FlCoordinatorOptions } from '../../src/fl/coordinator/fl-coordinator.js';
import { InProcessClientHost } from '../../src/fl/coordinator/in-process-client-host.js';
import { decodeModelFile } from '../../src/fl/model/model-file.js';
import { DIGITS } from '../helpers/digits-files.js';
import { brokerTransports, type BrokerTransports } from '../helpers/fl-broker.js';
import { MemoryLogger } from '../helpers/memory-logger.js';
import { startRabbitmqBroker, type RabbitmqBroker } from '../helpers/rabbitmq-broker.js';
import { NODE_TRAINER } from '../helpers/trainer-dirs.js';
import { until } from '../helpers/until.js';

const BASE = { clients: 3, rounds: 2, dataset: DIGITS, localEpochs: 1, seed: 11, roundTimeoutSeconds: 20, readyTimeoutSeconds: 20 };

/** In-process agents, except client-3: its launch (token, broker credentials) goes to the test, which plays a hostile agent. */
class HostileClientHost implements ClientHost {
  readonly kind = 'in-process' as const;
  private readonly honest = new InProcessClientHost();
  private got!: (l: AgentLaunch) => void;
  readonly hostile = new Promise<AgentLaunch>((resolve) => (this.got = resolve));

  listenAddresses(): string[] {
    return this.honest.listenAddresses();
  }

  coordinatorUrl(port: number): string {
    return this.honest.coordinatorUrl(port);
  }

  async launch(launch: AgentLaunch, signal: AbortSignal): Promise<LaunchedClient> {
    if (launch.clientId !== 'client-3') return this.honest.launch(launch, signal);
    this.got(launch);
    return { agentUrl: 'http://127.0.0.1:9', onEnded: () => {}, destroy: async () => {} };
  }
}

async function withCoordinator<T>(options: Partial<FlCoordinatorOptions> & { host: ClientHost }, use: (c: FlCoordinator) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'fl-broker-'));
  const database = new AnweddolDatabase(':memory:');
  const coordinator = new FlCoordinator({ dataDir: dir, listenPort: 0, store: new FlStore(database), ...options });
  try {
    await coordinator.start();
    return await use(coordinator);
  } finally {
    await coordinator.stop();
    database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The broker's answer to one operation under an agent's credentials: 'ok' or the AMQP refusal. */
async function attempt(config: AgentBrokerConfig, op: (ch: amqp.Channel) => Promise<unknown>): Promise<string> {
  const connection: ChannelModel = await amqp.connect(config.url);
  connection.on('error', () => {});
  try {
    const ch = await connection.createChannel();
    ch.on('error', () => {});
    await op(ch);
    return 'ok';
  } catch (e) {
    return /ACCESS_REFUSED/.test((e as Error).message) ? 'ACCESS_REFUSED' : (e as Error).message;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Publishes, then makes a round trip on the channel: the broker has handled the message (or refused it, closing the channel). */
async function publishThenSync(ch: amqp.Channel, me: AgentBrokerConfig, exchange: string, key: string, m: { body: Buffer; properties: object }): Promise<void> {
  ch.publish(exchange, key, m.body, m.properties);
  await ch.checkQueue(me.queue);
}

describe('FL agents over a real broker (in-process agents)', () => {
  let broker: RabbitmqBroker;

  before(async () => {
    broker = await startRabbitmqBroker();
  });

  after(async () => {
    await broker?.close();
  });

  it('reaches the same model as over HTTP with the same seed', async () => {
    const overHttp = await withCoordinator({ host: new InProcessClientHost() }, async (c) => {
      const s = await c.waitForTraining(c.startTraining(BASE));
      return { s, params: decodeModelFile(c.exportModel(s.training_uuid).bytes).params };
    });
    const overBroker = await withCoordinator({ host: new InProcessClientHost(), transport: brokerTransports(broker, '127.0.0.1').factory }, async (c) => {
      const s = await c.waitForTraining(c.startTraining(BASE));
      return { s, params: decodeModelFile(c.exportModel(s.training_uuid).bytes).params };
    });
    assert.equal(overBroker.s.status, 'finished', overBroker.s.message);
    assert.ok(overHttp.s.final_accuracy! > 0.85, String(overHttp.s.final_accuracy));
    assert.equal(overBroker.s.final_accuracy, overHttp.s.final_accuracy);
    assert.deepEqual(overBroker.params, overHttp.params);
  });

  it('refuses a trainer command: it would run outside the broker channel', async () => {
    await withCoordinator({ host: new InProcessClientHost(), transport: brokerTransports(broker, '127.0.0.1').factory }, async (c) => {
      assert.throws(() => c.startTraining({ ...BASE, trainer: { executor: 'python3', script: 'train.py', timeoutSeconds: 5 } }), /fl\.transport http/);
    });
  });

  it('refuses a --trainer directory: its trainer reports failures over HTTP', async () => {
    await withCoordinator({ host: new InProcessClientHost(), transport: brokerTransports(broker, '127.0.0.1').factory }, async (c) => {
      assert.throws(() => c.startTraining({ ...BASE, trainerDir: NODE_TRAINER }), /--trainer need fl\.transport http/);
    });
  });

  describe('a hostile agent with its own broker credentials and token', () => {
    const host = new HostileClientHost();
    const log = new MemoryLogger();
    let transports: BrokerTransports;
    let hostile: AgentLaunch;
    let me: AgentBrokerConfig;
    let coordinator: FlCoordinator;
    let database: AnweddolDatabase;
    let dir: string;
    let training: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'fl-broker-'));
      database = new AnweddolDatabase(':memory:');
      transports = brokerTransports(broker, '127.0.0.1', { maxUploadBytes: 256 * 1024, logger: log });
      coordinator = new FlCoordinator({ host, dataDir: dir, listenPort: 0, store: new FlStore(database), transport: transports.factory, logger: log });
      await coordinator.start();
      // client-3 never sends its statistics: the others start without it when the ready timeout ends.
      training = coordinator.startTraining({ ...BASE, minClients: 2, readyTimeoutSeconds: 12 });
      hostile = await host.hostile;
      me = hostile.broker!;
    });

    after(async () => {
      await coordinator?.stop();
      database?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const refusedWith = async (kind: UploadKind, body: Buffer, reason: RegExp, tweak: (m: ReturnType<typeof encodeUploadMessage>) => void = () => {}) => {
      const before = transports.created[0]!.refusedMessages;
      const m = encodeUploadMessage(kind, hostile.token, training, body, {}, me.userId);
      tweak(m);
      assert.equal(await attempt(me, (ch) => publishThenSync(ch, me, me.exchange, '', m)), 'ok');
      await until(() => transports.created[0]!.refusedMessages > before, 10_000, { what: 'the refusal' });
      assert.match(log.text(), reason);
    };

    it('reads its own queue', async () => {
      assert.equal(await attempt(me, (ch) => ch.checkQueue(me.queue)), 'ok');
    });

    it("cannot read another client's notification queue", async () => {
      assert.equal(await attempt(me, (ch) => ch.consume(me.queue.replace('client-3', 'client-1'), () => {})), 'ACCESS_REFUSED');
    });

    it("cannot read the coordinator's upload queue", async () => {
      assert.equal(await attempt(me, (ch) => ch.consume(me.exchange.replace(/upload$/, 'coordinator'), () => {})), 'ACCESS_REFUSED');
    });

    it('cannot publish notifications to other agents', async () => {
      const m = { body: Buffer.from('x'), properties: {} };
      assert.equal(await attempt(me, (ch) => publishThenSync(ch, me, me.exchange.replace(/upload$/, 'notify'), 'client-1', m)), 'ACCESS_REFUSED');
    });

    it('cannot declare queues or exchanges of its own', async () => {
      assert.equal(await attempt(me, (ch) => ch.assertQueue('anweddol.fl.mine')), 'ACCESS_REFUSED');
    });

    it("cannot publish under another user's id (the broker checks user_id)", async () => {
      const m = encodeUploadMessage('statistics', hostile.token, training, Buffer.from('{}'), {}, 'someone-else');
      const answer = await attempt(me, (ch) => publishThenSync(ch, me, me.exchange, '', m));
      assert.match(answer, /PRECONDITION_FAILED|user_id/);
    });

    it('has an upload with a forged token refused', async () => {
      await refusedWith('statistics', Buffer.from('{}'), /statistics over the broker refused: missing or invalid bearer token/, (m) => {
        m.properties.headers!.authorization = `Bearer ${'A'.repeat(43)}`;
      });
    });

    it("has an upload without its broker user's id refused, even with a valid token", async () => {
      await refusedWith('statistics', Buffer.from('{}'), /user_id does not match the token/, (m) => delete m.properties.userId);
    });

    it("has statistics in another client's name refused", async () => {
      await refusedWith('statistics', Buffer.from(JSON.stringify({ owner: 'client-1' })), /owner does not match the token/);
    });

    it('keeps a refusal that quotes what the agent sent on one log line', async () => {
      await refusedWith('statistics', Buffer.from('{}'), /unknown message type "forged\\nwarn line"/, (m) => {
        m.properties.type = 'forged\nwarn line';
      });
      assert.equal(log.lines.some((l) => l.message.includes('\n')), false);
    });

    it('has a message over the size limit refused before it is read', async () => {
      await refusedWith('update', Buffer.alloc(300 * 1024), /message larger than 262144 bytes/);
    });

    it('leaves the honest clients to finish the training', async () => {
      const s = await coordinator.waitForTraining(training);
      assert.equal(s.status, 'finished', s.message);
      assert.deepEqual(s.rounds.map((r) => r.clients), [2, 2]);
      assert.equal(s.clients.find((c) => c.client_id === 'client-3')!.status, 'dropped');
    });

    it("deletes the training's broker users and queues when it ends", async () => {
      await coordinator.waitForTraining(training);
      await assert.rejects(amqp.connect(me.url), /ACCESS_REFUSED - Login was refused/);
      const admin = await amqp.connect(broker.url);
      try {
        const ch = await admin.createChannel();
        ch.on('error', () => {});
        await assert.rejects(ch.checkQueue(me.queue), /NOT_FOUND/);
      } finally {
        await admin.close().catch(() => undefined);
      }
    });

    it('never logs a token or a broker password', () => {
      assert.equal(log.text().includes(hostile.token), false);
      assert.equal(log.text().includes(new URL(me.url).password), false);
    });
  });
});
