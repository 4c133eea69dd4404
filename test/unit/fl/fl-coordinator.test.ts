import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BASE, harness, type Harness } from '../../helpers/fl-harness.js';
import { InProcessClientHost } from '../../../src/fl/coordinator/in-process-client-host.js';
import type { AgentLaunch, ClientHost, LaunchedClient } from '../../../src/fl/coordinator/client-host.js';
import { decodeModelFile, encodeModelFile } from '../../../src/fl/model/model-file.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** A client that, before passing UPDATE_ROUND_START of round 1 to its real agent, tries bad uploads and records the answers. */
class MaliciousHost implements ClientHost {
  readonly kind = 'in-process' as const;
  readonly inner = new InProcessClientHost();
  readonly answers: Record<string, number> = {};
  private proxies: Server[] = [];
  coordinatorBase = '';

  listenAddresses(): string[] {
    return this.inner.listenAddresses();
  }

  coordinatorUrl(port: number): string {
    this.coordinatorBase = this.inner.coordinatorUrl(port);
    return this.coordinatorBase;
  }

  async launch(launch: AgentLaunch, signal: AbortSignal): Promise<LaunchedClient> {
    const real = await this.inner.launch(launch, signal);
    if (launch.clientId !== 'client-1') return real;
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks);
        const n = JSON.parse(body.toString()) as { notification_type: string; body: { round?: number; global_model_uuid?: string } };
        if (n.notification_type === 'UPDATE_ROUND_START' && n.body.round === 1) await this.attack(launch, n.body.global_model_uuid!);
        const fwd = await fetch(`${real.agentUrl}${req.url}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: req.headers.authorization! }, body });
        res.writeHead(fwd.status, { 'content-type': 'application/json' }).end(await fwd.text());
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    this.proxies.push(proxy);
    return {
      agentUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      onEnded: (l) => real.onEnded(l),
      destroy: async () => {
        await real.destroy();
        proxy.closeAllConnections();
        await new Promise<void>((r) => proxy.close(() => r()));
      },
    };
  }

  private async attack(launch: AgentLaunch, modelUuid: string): Promise<void> {
    const model = await fetch(`${this.coordinatorBase}/api/models/${modelUuid}/`, { headers: { authorization: `Bearer ${launch.token}` } });
    const file = decodeModelFile(new Uint8Array(await model.arrayBuffer()));
    const poisoned = encodeModelFile({ ...file, params: file.params.map(() => 1000) });
    const upload = async (name: string, o: { token?: string; round?: string; owner?: string; sample?: string; file?: Uint8Array; model?: string }) => {
      const form = new FormData();
      form.set('owner', o.owner ?? launch.clientId);
      form.set('round', o.round ?? '1');
      form.set('sample_size', o.sample ?? '10');
      form.set('metric_names', '["train_loss"]');
      form.set('metric_values', '[0.1]');
      form.set('model_file', new Blob([o.file ?? poisoned]), 'model.safetensors');
      const res = await fetch(`${this.coordinatorBase}/api/models/${o.model ?? modelUuid}/`, { method: 'POST', body: form, headers: { authorization: `Bearer ${o.token ?? launch.token}` } });
      await res.arrayBuffer();
      this.answers[name] = res.status;
    };
    await upload('forged token', { token: 'x'.repeat(43) });
    await upload('wrong round', { round: '2' });
    await upload('other owner', { owner: 'client-2' });
    await upload('malformed file', { file: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]) });
    await upload('oversized file', { file: new Uint8Array(20 * 1024 * 1024) });
    await upload('unknown model', { model: randomUUID() });
    await upload('sample size above the shard', { sample: '100000' });
    const truncated = poisoned.subarray(0, poisoned.length - 8);
    await upload('truncated file', { file: truncated });
    const metrics = await fetch(`${this.coordinatorBase}/api/models/${modelUuid}/metrics/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${launch.token}` },
      body: JSON.stringify({ owner: launch.clientId, round: 1, metric_names: ['accuracy'], metric_values: [1] }),
    });
    await metrics.arrayBuffer();
    this.answers['metrics during the fit phase'] = metrics.status;
    // Without a valid token nothing is read: a huge body is refused for the token, not parsed or sized first.
    const unauthenticated = await fetch(`${this.coordinatorBase}/api/trainings/${randomUUID()}/statistics/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer forged' },
      body: JSON.stringify({ padding: 'x'.repeat(5 * 1024 * 1024) }),
    }).catch(() => undefined);
    await unauthenticated?.arrayBuffer().catch(() => undefined);
    this.answers['large body without a token'] = unauthenticated?.status ?? 0;
  }
}

describe('FL coordinator with in-process agents', () => {
  const open: Harness[] = [];
  after(async () => {
    await Promise.all(open.map((h) => h.close()));
  });

  async function make(host: ClientHost = new InProcessClientHost()): Promise<Harness> {
    const h = await harness(host);
    open.push(h);
    return h;
  }

  it('runs a 3-client 3-round training that beats the initial model, persists rounds and model files, emits events', async () => {
    const h = await make();
    const id = h.coordinator.startTraining(BASE);
    const s = await h.coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', s.message);
    assert.equal(s.rounds.length, 3);
    assert.ok(s.final_accuracy! > s.initial_accuracy! + 0.2, `${s.initial_accuracy} → ${s.final_accuracy}`);
    assert.ok(s.rounds.every((r) => r.clients === 3));
    const rounds = h.store.rounds(id);
    assert.deepEqual(rounds.map((r) => r.round), [0, 1, 2, 3]);
    assert.ok(rounds.every((r) => existsSync(r.modelPath)));
    assert.equal(h.store.getTraining(id)!.status, 'finished');
    assert.equal(h.store.participation(id).filter((p) => p.phase === 'fit').length, 9);
    assert.equal(h.store.participation(id).filter((p) => p.phase === 'test').length, 9);
    const names = h.events.filter((e) => e.payload.training_uuid === id).map((e) => e.name);
    assert.deepEqual(names, ['fl_training_started', 'fl_round_completed', 'fl_round_completed', 'fl_round_completed', 'fl_training_finished']);
    const exported = decodeModelFile(h.coordinator.exportModel(id).bytes);
    assert.equal(exported.metadata.round, '3');
    assert.equal(h.coordinator.summary(id)!.final_accuracy, s.final_accuracy);
  });

  it('rejects forged, wrong-round, foreign, malformed and oversized uploads, and the aggregate is the same as without them', async () => {
    const clean = await make();
    const attacked = new MaliciousHost();
    const h = await make(attacked);
    const [a, b] = [clean.coordinator.startTraining(BASE), h.coordinator.startTraining(BASE)];
    const [sa, sb] = await Promise.all([clean.coordinator.waitForTraining(a), h.coordinator.waitForTraining(b)]);
    assert.equal(sb.status, 'finished', sb.message);
    assert.deepEqual(attacked.answers, {
      'forged token': 401,
      'wrong round': 409,
      'other owner': 403,
      'malformed file': 400,
      'oversized file': 413,
      'unknown model': 404,
      'sample size above the shard': 400,
      'truncated file': 400,
      'metrics during the fit phase': 409,
      'large body without a token': 401,
    });
    assert.equal(h.store.participation(b).filter((p) => p.phase === 'fit' && p.round === 1).length, 3);
    assert.deepEqual(decodeModelFile(h.coordinator.exportModel(b).bytes).params, decodeModelFile(clean.coordinator.exportModel(a).bytes).params);
    assert.equal(sb.final_accuracy, sa.final_accuracy);
  });

  it('drops a client that never sends its update at the round deadline and finishes with the others', async () => {
    const h = await make();
    const id = h.coordinator.startTraining({ ...BASE, rounds: 2, minClients: 2, roundTimeoutSeconds: 1, clientTrainers: { 2: { executor: '/bin/true', script: '', timeoutSeconds: 5 } } });
    const s = await h.coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', s.message);
    assert.deepEqual(s.clients.find((c) => c.client_id === 'client-3'), { client_id: 'client-3', status: 'dropped', drop_reason: 'no update before the round 1 deadline' });
    assert.ok(s.rounds[0]!.duration_ms >= 1000, `round 1 took ${s.rounds[0]!.duration_ms} ms`);
    assert.deepEqual(s.rounds.map((r) => r.clients), [2, 2]);
    assert.ok(h.events.some((e) => e.name === 'fl_client_dropped' && e.payload.client_id === 'client-3'));
  });

  it('drops a client whose environment dies mid-training and finishes with the others', async () => {
    const host = new InProcessClientHost();
    const h = await make(host);
    const id = h.coordinator.startTraining({ ...BASE, rounds: 4, minClients: 2 });
    const killed = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (h.events.some((e) => e.name === 'fl_round_completed' && e.payload.round === 1)) {
          clearInterval(timer);
          void host.clients.find((c) => c.launch.clientId === 'client-2')!.kill().then(resolve);
        }
      }, 5);
    });
    const s = await h.coordinator.waitForTraining(id);
    await killed;
    assert.equal(s.status, 'finished', s.message);
    assert.equal(s.clients.find((c) => c.client_id === 'client-2')!.status, 'dropped');
    assert.match(s.clients.find((c) => c.client_id === 'client-2')!.drop_reason!, /sandbox ended \(killed\)/);
    assert.equal(s.rounds.at(-1)!.clients, 2);
  });

  it('fails with a clear status when fewer than min_fit_clients updates arrive', async () => {
    const h = await make();
    const id = h.coordinator.startTraining({ ...BASE, clients: 2, minClients: 2, roundTimeoutSeconds: 0.5, clientTrainers: { 1: { executor: '/bin/true', script: '', timeoutSeconds: 5 } } });
    const s = await h.coordinator.waitForTraining(id);
    assert.equal(s.status, 'failed');
    assert.equal(s.message, 'round 1: 1 update(s) received, min_fit_clients is 2');
    assert.equal(h.store.getTraining(id)!.status, 'failed');
    assert.ok(h.events.some((e) => e.name === 'fl_training_finished' && e.payload.status === 'failed'));
  });

  it('trains the MLP with client-1 running the bundled agent as an external trainer command', async () => {
    execFileSync(process.execPath, [join(REPO, 'scripts/build-agent.mjs')], { cwd: REPO });
    const h = await make();
    const trainer = { executor: process.execPath, script: join(REPO, 'dist/fl-agent/agent.mjs'), timeoutSeconds: 30 };
    const id = h.coordinator.startTraining({ ...BASE, rounds: 2, model: 'mlp', hidden: 8, learningRate: 0.1, clientTrainers: { 0: trainer } });
    const s = await h.coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', s.message);
    // client-1 answered every round through the child process (a failing trainer would be dropped at the deadline).
    assert.deepEqual(s.rounds.map((r) => r.clients), [3, 3]);
    assert.ok(s.final_accuracy! > s.initial_accuracy! + 0.1, `${s.initial_accuracy} → ${s.final_accuracy}`);
    assert.equal(decodeModelFile(h.coordinator.exportModel(id).bytes).spec.hidden, 8);
    assert.equal(h.store.participation(id).filter((p) => p.clientId === 'client-1').length, 4);
  });

  it('refuses an invalid training request before starting anything', async () => {
    const h = await make();
    assert.throws(() => h.coordinator.startTraining({ ...BASE, minClients: 5 }), /min clients must be an integer in 1..3/);
    assert.throws(() => h.coordinator.startTraining({ ...BASE, split: 'dirichlet:-1' }), /split must be/);
    assert.deepEqual(h.store.listTrainings(), []);
  });
});
