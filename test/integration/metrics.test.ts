// Prometheus metrics scraped over a real socket while a real server (real dockerd) serves STAT, CREATE, refusals and an FL training.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SANDBOX_STATES } from '../../src/daemon/metrics/daemon-metrics.js';
import { FlCoordinator } from '../../src/fl/coordinator/fl-coordinator.js';
import { InProcessClientHost } from '../../src/fl/coordinator/in-process-client-host.js';
import { POISON_REASONS } from '../../src/server/amqp/broker-delivery.js';
import { REFUSAL_REASONS, RESPONSE_CLASSES } from '../../src/server/server-observer.js';
import { containersOf, dockerHost, REPO, SANDBOX_IMAGE, uniqueServerId } from '../helpers/docker-sandbox.js';
import { serveMetrics, type Scrape, type ServedMetrics } from '../helpers/prometheus-text.js';
import { startSandboxServer, type CreatedData, type SandboxServer } from '../helpers/sandbox-server.js';
import { until } from '../helpers/until.js';

const serverId = uniqueServerId('metrics');
const dir = mkdtempSync(join(tmpdir(), 'anweddol-metrics-'));
/** Every credential a response handed out: none may appear in a scrape. */
const secrets: string[] = [];
let denyEveryone = false;
let s: SandboxServer;
let metrics: ServedMetrics;

const read = (): Promise<Scrape> => metrics.read();
const valueOf = (sample: Scrape, name: string, labels?: Record<string, string>) => sample.value(name, labels) ?? 0;

/** How much a series moved while `action` ran. */
async function delta(name: string, labels: Record<string, string> | undefined, action: () => Promise<unknown>): Promise<number> {
  const before = valueOf(await read(), name, labels);
  await action();
  return valueOf(await read(), name, labels) - before;
}

async function create(): Promise<CreatedData> {
  const response = await s.client.create();
  assert.equal(response.message, 'OK');
  const data = response.data as unknown as CreatedData;
  secrets.push(data.container_uuid, data.client_token, data.container_password, data.container_username);
  return data;
}

async function destroy(data: CreatedData): Promise<void> {
  assert.equal((await s.client.destroy(data.container_uuid, data.client_token)).message, 'OK');
}

describe('Prometheus metrics', () => {
  before(async () => {
    s = await startSandboxServer({
      databaseFile: join(dir, 'anweddol.db'),
      maxSandboxes: 1,
      destroyOnStop: true,
      backend: { dockerHost: dockerHost(), image: SANDBOX_IMAGE, serverId },
      serverOptions: { ipFilter: () => !denyEveryone },
    });
    metrics = await serveMetrics(s.server);
  });

  after(async () => {
    await metrics?.close();
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(containersOf(serverId), []);
  });

  it('serves the text exposition format on GET /metrics, with the process metrics', async () => {
    const sample = await read();
    assert.equal(sample.status, 200);
    assert.match(sample.contentType, /^text\/plain; version=0\.0\.4/);
    assert.ok(sample.value('process_cpu_user_seconds_total') !== undefined, 'default process metrics are there');
    assert.ok(sample.value('nodejs_heap_size_used_bytes') !== undefined);
  });

  it('answers 404 on any other path', async () => {
    const response = await fetch(metrics.url.replace(/\/metrics$/, '/'));
    await response.arrayBuffer();
    assert.equal(response.status, 404);
  });

  it('counts a STAT by verb, result and transport', async () => {
    assert.equal(await delta('anweddol_requests_total', { verb: 'STAT', result: 'OK', transport: 'tcp' }, () => s.client.stat()), 1);
  });

  it('times the key exchange of each TCP connection', async () => {
    assert.equal(await delta('anweddol_handshake_seconds_count', undefined, () => s.client.stat()), 1);
  });

  it('counts a verb without a handler as other, never by the name the client chose', async () => {
    assert.equal(await delta('anweddol_requests_total', { verb: 'other', result: 'Bad request', transport: 'tcp' }, () => s.client.request('SOMESECRETVERB')), 1);
    assert.doesNotMatch((await read()).text, /SOMESECRETVERB/);
  });

  it('counts a CREATE, times its sandbox as cold, and shows it running until DESTROY', async () => {
    let data: CreatedData | undefined;
    const timed = await delta('anweddol_sandbox_create_seconds_count', { source: 'cold' }, async () => {
      data = await create();
    });
    assert.equal(timed, 1);
    const running = await read();
    assert.equal(running.value('anweddol_sandboxes', { state: 'running' }), 1);
    assert.equal(running.value('anweddol_sandboxes', { state: 'pool' }), 0);
    assert.equal(running.value('anweddol_capacity'), 1);
    assert.ok(valueOf(running, 'anweddol_requests_total', { verb: 'CREATE', result: 'OK', transport: 'tcp' }) >= 1);
    await destroy(data!);
    assert.equal((await read()).value('anweddol_sandboxes', { state: 'running' }), 0);
  });

  it('counts a CREATE beyond capacity as a capacity refusal answered Unavailable', async () => {
    const held = await create();
    try {
      const refusals = await delta('anweddol_refusals_total', { reason: 'capacity' }, async () => {
        assert.match((await s.client.create()).message, /^Unavailable/);
      });
      assert.equal(refusals, 1);
      assert.ok(valueOf(await read(), 'anweddol_requests_total', { verb: 'CREATE', result: 'Unavailable', transport: 'tcp' }) >= 1);
    } finally {
      await destroy(held);
    }
  });

  it('counts a connection the IP filter turns away as ip_filter', async () => {
    denyEveryone = true;
    try {
      const refusals = await delta('anweddol_refusals_total', { reason: 'ip_filter' }, () => s.client.stat().then(() => assert.fail('answered'), () => {}));
      assert.equal(refusals, 1);
    } finally {
      denyEveryone = false;
    }
  });

  it('counts a request a hook vetoed as vetoed, answered Refused request', async () => {
    const veto = (ctx: { refuse(reason?: string): unknown }) => ctx.refuse('closed for maintenance');
    s.server.on('request', veto);
    try {
      const labels = { verb: 'STAT', result: 'Refused request', transport: 'tcp' };
      const before = await read();
      assert.equal((await s.client.stat()).message, 'Refused request (closed for maintenance)');
      const after = await read();
      assert.equal(valueOf(after, 'anweddol_refusals_total', { reason: 'vetoed' }) - valueOf(before, 'anweddol_refusals_total', { reason: 'vetoed' }), 1);
      assert.equal(valueOf(after, 'anweddol_requests_total', labels) - valueOf(before, 'anweddol_requests_total', labels), 1);
    } finally {
      s.server.off('request', veto);
    }
  });

  it('counts a crashing handler as a runtime error, under its registered verb', async () => {
    s.server.setRequestHandler('CRASH', () => {
      throw new Error('boom');
    });
    const before = await read();
    assert.equal((await s.client.request('CRASH')).message, 'Internal error');
    const after = await read();
    assert.equal(valueOf(after, 'anweddol_runtime_errors_total') - valueOf(before, 'anweddol_runtime_errors_total'), 1);
    assert.equal(after.value('anweddol_requests_total', { verb: 'CRASH', result: 'Internal error', transport: 'tcp' }), 1);
  });

  it('gauges connections while they are open', async () => {
    const baseline = valueOf(await read(), 'anweddol_connections_active');
    const socket: Socket = connect({ host: '127.0.0.1', port: s.server.tcpAddress()!.port });
    socket.on('error', () => {});
    try {
      await until(async () => valueOf(await read(), 'anweddol_connections_active') === baseline + 1);
    } finally {
      socket.destroy();
    }
    await until(async () => valueOf(await read(), 'anweddol_connections_active') === baseline);
  });

  it('counts FL rounds, times them, and gauges accuracy per training until it ends', async () => {
    const fl = mkdtempSync(join(dir, 'fl-'));
    const coordinator = new FlCoordinator({ host: new InProcessClientHost(), dataDir: fl, listenPort: 0, emit: (name, payload) => void s.server.emitEvent(name, payload) });
    await coordinator.start();
    const during: Array<number | undefined> = [];
    const onRound = async (ctx: Record<string, unknown>) => during.push((await read()).value('anweddol_fl_accuracy', { training: ctx.training_uuid as string }));
    s.server.on('fl_round_completed', onRound);
    try {
      const before = await read();
      const id = coordinator.startTraining({ clients: 2, rounds: 2, dataset: join(REPO, 'test/fixtures/digits.csv.gz'), localEpochs: 1, readyTimeoutSeconds: 10, roundTimeoutSeconds: 30 });
      const summary = await coordinator.waitForTraining(id);
      assert.equal(summary.status, 'finished', summary.message);
      const after = await read();
      assert.equal(valueOf(after, 'anweddol_fl_rounds_total') - valueOf(before, 'anweddol_fl_rounds_total'), 2);
      assert.equal(valueOf(after, 'anweddol_fl_round_seconds_count') - valueOf(before, 'anweddol_fl_round_seconds_count'), 2);
      assert.deepEqual(during, summary.rounds.map((r) => r.accuracy));
      assert.equal(after.value('anweddol_fl_accuracy', { training: id }), undefined, 'cleared when the training ended');
    } finally {
      s.server.off('fl_round_completed', onRound);
      await coordinator.stop();
    }
  });

  it('carries no client address, credential or client-chosen text in any label', async () => {
    const sample = await read();
    assert.ok(secrets.length >= 8, 'the CREATE tests handed out credentials');
    for (const secret of secrets) assert.equal(sample.text.includes(secret), false, 'a credential reached the metrics');
    assert.doesNotMatch(sample.text, /127\.0\.0\.1|::1|::ffff:/);
    const allowed: Record<string, (value: string) => boolean> = {
      verb: (v) => ['STAT', 'CREATE', 'DESTROY', 'CRASH', 'other'].includes(v),
      result: (v) => (RESPONSE_CLASSES as readonly string[]).includes(v),
      transport: (v) => ['tcp', 'http', 'https', 'amqp'].includes(v),
      // Refusal reasons, and the broker's poison-message reasons (anweddol_amqp_poison_messages_total).
      reason: (v) => [...REFUSAL_REASONS, ...POISON_REASONS].includes(v as never),
      state: (v) => (SANDBOX_STATES as readonly string[]).includes(v),
      source: (v) => ['cold', 'pool'].includes(v),
      training: (v) => /^[0-9a-f-]{36}$/.test(v),
      le: (v) => v === '+Inf' || Number.isFinite(Number(v)),
    };
    for (const { name, labels } of sample.samples.filter((x) => x.name.startsWith('anweddol_'))) {
      for (const [key, value] of Object.entries(labels)) assert.ok(allowed[key]?.(value), `${name}: label ${key}="${value}" is outside its closed set`);
    }
  });
});
