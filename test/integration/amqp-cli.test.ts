// The daemon's RabbitMQ interface from the configuration and the CLI: `rabbitmq.*`, `stat --amqp`, the poison metric, secrets kept out of output.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnweddolAmqpClient } from '../../src/client/amqp-client.js';
import { uniqueQueue } from '../helpers/amqp-server.js';
import { REPO } from '../helpers/docker-sandbox.js';
import { createTestInstall, jsonOf, runCli, startForeground, type Foreground, type TestInstall } from '../helpers/cli-runner.js';
import { startRabbitmqBroker, type RabbitmqBroker } from '../helpers/rabbitmq-broker.js';

let broker: RabbitmqBroker;
let install: TestInstall;
let daemon: Foreground;
const queue = uniqueQueue('cli');

before(async () => {
  broker = await startRabbitmqBroker({ tls: true });
  install = await createTestInstall({ rabbitmq: { enabled: true, url: broker.url, queue } });
  // The example plugin's custom verb, to be served through the broker like the built-in ones.
  (install.config as Record<string, unknown>).plugins = [{ path: join(REPO, 'examples/plugins/custom-verb.mjs'), config: { motd: 'hello over the broker' } }];
  install.save();
  daemon = startForeground(['start', '--foreground', '--config', install.configPath]);
  await daemon.firstLine;
  // Consuming once STAT is answered through the broker (the transport connects in the background).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = await runCli(['stat', '--amqp', broker.url, '--queue', queue, '--json']);
    if (run.code === 0) break;
    if (Date.now() > deadline) throw new Error(`the daemon never answered over the broker: ${run.stdout}${run.stderr}\n${daemon.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
});

after(async () => {
  if (daemon !== undefined && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exit;
  }
  install?.remove();
  await broker?.close();
});

/** A second daemon on the broker's amqps listener with `rabbitmq` overrides; stopped and removed after `use`. */
async function withTlsDaemon(rabbitmq: Record<string, unknown>, use: (queue: string, output: () => string) => Promise<void>): Promise<void> {
  const tlsQueue = uniqueQueue('tls');
  const tls = await createTestInstall({ rabbitmq: { enabled: true, url: broker.tlsUrl, queue: tlsQueue, ...rabbitmq } });
  const started = startForeground(['start', '--foreground', '--config', tls.configPath]);
  try {
    await started.firstLine;
    await use(tlsQueue, started.output);
  } finally {
    started.child.kill('SIGTERM');
    await started.exit;
    tls.remove();
  }
}

/** Waits (bounded) until the daemon's output shows `line`. */
async function logged(output: () => string, line: RegExp): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!line.test(output())) {
    if (Date.now() > deadline) assert.fail(`never logged ${line}:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('rabbitmq.* over amqps', () => {
  it('consumes over TLS, verifying the broker with rabbitmq.ca_file_path', async () => {
    await withTlsDaemon({ ca_file_path: broker.caFile }, async (tlsQueue, output) => {
      await logged(output, /INFO amqp: consuming \S+ on amqps:\/\/127\.0\.0\.1:\d+/);
      // The client may use the plain listener: only the daemon's connection is under test.
      const client = await AnweddolAmqpClient.connect({ url: broker.url, queue: tlsQueue, timeoutMs: 30_000 });
      try {
        const response = await client.stat().catch((error: Error) => assert.fail(`${error.message}; daemon output:\n${output()}`));
        assert.equal(response.message, 'OK');
      } finally {
        await client.close();
      }
    });
  });

  it('refuses a broker certificate it cannot verify, and says so without the credentials', async () => {
    await withTlsDaemon({}, async (_queue, output) => {
      await logged(output, /WARN amqp: cannot consume from amqps:\/\/127\.0\.0\.1:\d+ \(.*certificate/);
      assert.equal(output().includes(new URL(broker.url).password), false);
    });
  });
});

describe('rabbitmq.* in the daemon and stat --amqp', () => {
  it('answers stat --amqp with the server version, naming the broker without its credentials', async () => {
    const human = await runCli(['stat', '--amqp', broker.url, '--queue', queue]);
    assert.equal(human.code, 0, human.stderr);
    const password = new URL(broker.url).password;
    assert.match(human.stdout, new RegExp(`amqp://127\\.0\\.0\\.1:${broker.port} queue ${queue.replaceAll('.', '\\.')}: version \\S+, uptime \\d+ s`));
    assert.equal(human.stdout.includes(password), false);
    const json = jsonOf(await runCli(['stat', '--amqp', broker.url, '--queue', queue, '--json']));
    assert.equal(json.status, 'OK');
    assert.equal(typeof json.data.version, 'string');
  });

  it("serves a daemon plugin's custom verb through the broker", async () => {
    const client = await AnweddolAmqpClient.connect({ url: broker.url, queue, timeoutMs: 30_000 });
    try {
      const response = await client.request('INFO');
      assert.equal(response.message, 'OK');
      assert.equal((response.data as { motd: string }).motd, 'hello over the broker');
    } finally {
      await client.close();
    }
  });

  it('warns at start that the broker interface runs with access tokens off', () => {
    assert.match(daemon.output(), /WARN the RabbitMQ interface serves \S+ with access tokens off/);
  });

  it('never logs the broker password', () => {
    assert.equal(daemon.output().includes(new URL(broker.url).password), false);
  });

  it('counts a poison message in the metrics and in the admin stat', async () => {
    const client = await AnweddolAmqpClient.connect({ url: broker.url, queue });
    try {
      await client.publishRaw(Buffer.from('not json'), { correlationId: 'poison', replyTo: client.replyQueue });
    } finally {
      await client.close();
    }
    const metricsUrl = `http://127.0.0.1:${install.config.metrics!.listen_port as number}/metrics`;
    const deadline = Date.now() + 10_000;
    let text = '';
    while (!/anweddol_amqp_poison_messages_total\{reason="not_json"\} 1/.test(text)) {
      if (Date.now() > deadline) assert.fail(`no poison count in the metrics:\n${text}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      text = await (await fetch(metricsUrl)).text();
    }
    assert.match(text, /anweddol_amqp_poison_messages_total\{reason="too_large"\} 0/);
    const stat = jsonOf(await runCli(['stat', '--config', install.configPath, '--json']));
    assert.equal((stat.data.poison_messages as Record<string, number>).not_json, 1);
  });

  it('refuses a --amqp that is not a broker URL without echoing it', async () => {
    const run = await runCli(['stat', '--amqp', 'http://someone:hunter2@127.0.0.1/', '--json']);
    assert.notEqual(run.code, 0);
    assert.match(jsonOf(run).message, /--amqp must be a broker URL/);
    assert.equal(run.stdout.includes('hunter2') || run.stderr.includes('hunter2'), false);
  });

  it('rejects a rabbitmq.url that is not a broker URL, naming the key without echoing the value', async () => {
    const bad = await createTestInstall({ rabbitmq: { enabled: true, url: 'http://someone:hunter2@127.0.0.1/' } });
    try {
      const run = await runCli(['start', '--check', '--config', bad.configPath, '--json']);
      assert.notEqual(run.code, 0);
      assert.match(run.stdout + run.stderr, /rabbitmq\.url: must be a broker URL/);
      assert.equal((run.stdout + run.stderr).includes('hunter2'), false);
    } finally {
      bad.remove();
    }
  });
});
