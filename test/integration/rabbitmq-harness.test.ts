// The private-broker harness (scripts/rabbitmq.sh via test/helpers/rabbitmq-broker.ts): reachable, restartable, leaves nothing.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import { startRabbitmqBroker, type RabbitmqBroker } from '../helpers/rabbitmq-broker.js';

/** Live processes started with this broker's environment (the node, its helpers, its epmd, a rabbitmqctl). */
function processesOf(dir: string): string[] {
  const marker = `RABBITMQ_MNESIA_BASE=${dir}/mnesia`;
  const pids = readdirSync('/proc').filter((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      const live = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]?.[0] !== 'Z';
      return live && readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker);
    } catch {
      return false;
    }
  });
  // pid and command, so a failure names what was left
  return pids.map((pid) => `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').slice(0, 120)}`);
}

async function roundTrip(url: string, queue: string): Promise<string> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    await channel.assertQueue(queue, { durable: true });
    channel.sendToQueue(queue, Buffer.from('ping'), { persistent: true });
    for (;;) {
      const message = await channel.get(queue, { noAck: true });
      if (message !== false) return message.content.toString();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await connection.close();
  }
}

describe('private rabbitmq broker harness', () => {
  let broker: RabbitmqBroker;
  before(async () => {
    broker = await startRabbitmqBroker({ extraBindAddress: '::1' });
  });
  after(() => broker?.close());

  it('accepts AMQP with its generated credentials on 127.0.0.1', async () => {
    assert.match(broker.url, /^amqp:\/\/anweddol-[0-9a-f]+:[0-9a-f]+@127\.0\.0\.1:\d+\/$/);
    assert.equal(await roundTrip(broker.url, 'harness.loopback'), 'ping');
  });

  it('also listens on the extra bind address', async () => {
    assert.equal(await roundTrip(broker.urlFor('::1'), 'harness.extra'), 'ping');
  });

  it('refuses the default guest user', async () => {
    const guest = new URL(broker.url);
    guest.username = 'guest';
    guest.password = 'guest';
    await assert.rejects(amqp.connect(guest.toString()), /ACCESS_REFUSED|403/);
  });

  it('keeps a persistent message in a durable queue across stop and start', async () => {
    const connection = await amqp.connect(broker.url);
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('harness.durable', { durable: true });
    channel.sendToQueue('harness.durable', Buffer.from('kept'), { persistent: true });
    await channel.waitForConfirms();
    await connection.close();
    await broker.stop();
    await assert.rejects(amqp.connect(broker.url));
    await broker.start();
    const again = await amqp.connect(broker.url);
    try {
      const message = await (await again.createChannel()).get('harness.durable', { noAck: true });
      assert.ok(message !== false);
      assert.equal(message.content.toString(), 'kept');
    } finally {
      await again.close();
    }
  });

  it('leaves no process and no folder once closed', async () => {
    assert.notDeepEqual(processesOf(broker.dir), []);
    await broker.close();
    assert.deepEqual(processesOf(broker.dir), []);
    assert.equal(existsSync(broker.dir), false);
    await assert.rejects(amqp.connect(broker.url));
  });
});
