// FL trainings with agents in real sandboxes (private dockerd, real image): rounds, a killed client, forged uploads, deadlines.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { AnweddolDatabase } from '../../src/database/database.js';
import { FlStore } from '../../src/database/fl-store.js';
import { FlCoordinator, type FlEventName } from '../../src/fl/coordinator/fl-coordinator.js';
import { FL_CLIENT_LABEL, FL_TRAINING_LABEL, SandboxClientHost } from '../../src/fl/coordinator/sandbox-client-host.js';
import { decodeModelFile } from '../../src/fl/model/model-file.js';
import { DockerVirtualization } from '../../src/virtualization/docker/docker-virtualization.js';
import { containersOf, docker, dockerHost, SANDBOX_IMAGE, uniqueServerId } from '../helpers/docker-sandbox.js';

const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));
const serverId = uniqueServerId('fl');
const BASE = { clients: 3, rounds: 3, dataset: DIGITS, localEpochs: 2, roundTimeoutSeconds: 30, readyTimeoutSeconds: 30 };

function containerOf(training: string, client: string): string {
  return docker(['ps', '-q', '--filter', `label=${FL_TRAINING_LABEL}=${training}`, '--filter', `label=${FL_CLIENT_LABEL}=${client}`]);
}

describe('FL in Docker sandboxes', () => {
  let backend: DockerVirtualization;
  let coordinator: FlCoordinator;
  let database: AnweddolDatabase;
  let store: FlStore;
  let dir: string;
  const events: Array<{ name: FlEventName; payload: Record<string, unknown> }> = [];
  const slots = { taken: 0, max: 0 };

  before(async () => {
    backend = new DockerVirtualization({ dockerHost: dockerHost(), image: SANDBOX_IMAGE, serverId, publishedAddress: '127.0.0.1', portRange: [13000, 13999], memoryMiB: 512, vcpus: 1, pidsLimit: 256 });
    await backend.start();
    assert.equal(backend.isAvailable(), true);
    dir = mkdtempSync(join(tmpdir(), 'fl-docker-'));
    database = new AnweddolDatabase(':memory:');
    store = new FlStore(database);
    const reserveSlot = () => {
      slots.taken++;
      slots.max = Math.max(slots.max, slots.taken);
      let released = false;
      return { release: () => { if (!released) { released = true; slots.taken--; } } };
    };
    coordinator = new FlCoordinator({
      host: new SandboxClientHost({ virtualization: backend, reserveSlot }),
      dataDir: dir, listenPort: 0, store,
      emit: (name, payload) => events.push({ name, payload }),
    });
    await coordinator.start();
  });

  after(async () => {
    await coordinator?.stop();
    for (const id of containersOf(serverId)) await backend.destroy(id).catch(() => undefined);
    await backend?.close();
    database?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a 3-client 3-round training on digits completes in sandboxes and beats the initial model', async () => {
    const id = coordinator.startTraining(BASE);
    const s = await coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', s.message);
    assert.deepEqual(s.rounds.map((r) => r.clients), [3, 3, 3]);
    assert.ok(s.final_accuracy! > 0.85 && s.final_accuracy! > s.initial_accuracy! + 0.5, `${s.initial_accuracy} → ${s.final_accuracy}`);
    assert.equal(slots.max >= 3, true);
    assert.equal(slots.taken, 0, 'capacity slots released');
    assert.deepEqual(containersOf(serverId), [], 'sandboxes destroyed');
    assert.equal(store.participation(id).filter((p) => p.phase === 'test').length, 9);
  });

  it('drops a client whose sandbox is killed mid-training and finishes with the others', async () => {
    const id = coordinator.startTraining({ ...BASE, rounds: 4, minClients: 2 });
    let killed = false;
    while (!killed) {
      if (events.some((e) => e.name === 'fl_round_completed' && e.payload.training_uuid === id && e.payload.round === 1)) {
        docker(['kill', containerOf(id, 'client-2')]);
        killed = true;
      } else await new Promise((r) => setTimeout(r, 20));
      if (coordinator.summary(id)?.status === 'failed') break;
    }
    const s = await coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', `${s.message} ${JSON.stringify(s.clients)}`);
    const dropped = s.clients.find((c) => c.client_id === 'client-2')!;
    assert.equal(dropped.status, 'dropped');
    assert.match(dropped.drop_reason!, /sandbox ended|unreachable|deadline/);
    assert.equal(s.rounds.at(-1)!.clients, 2);
    assert.ok(events.some((e) => e.name === 'fl_client_dropped' && e.payload.training_uuid === id && e.payload.client_id === 'client-2'));
    assert.deepEqual(containersOf(serverId), []);
  });

  it('rejects forged and wrong-round uploads from outside, and the aggregate equals an undisturbed run', async () => {
    const clean = coordinator.startTraining(BASE);
    const attacked = coordinator.startTraining(BASE);
    const answers: Record<string, number> = {};
    // During round 1 of the attacked training, use client-1's real token (read from its sandbox) with a wrong round, and a forged token.
    while (store.rounds(attacked).length < 1) await new Promise((r) => setTimeout(r, 20));
    const model = store.rounds(attacked)[0]!.globalModelUuid;
    const config = JSON.parse(docker(['exec', containerOf(attacked, 'client-1'), 'cat', '/opt/anweddol/fl-work/config.json'])) as { token: string };
    const url = `http://127.0.0.1:${coordinator.listenPort}/api/models/${model}/`;
    const good = await fetch(url, { headers: { authorization: `Bearer ${config.token}` } });
    const file = new Uint8Array(await good.arrayBuffer());
    for (const [name, token, round] of [['forged token', 'A'.repeat(43), '1'], ['wrong round', config.token, '7']] as const) {
      const form = new FormData();
      for (const [k, v] of Object.entries({ owner: 'client-1', round, sample_size: '100', metric_names: '[]', metric_values: '[]' })) form.set(k, v);
      form.set('model_file', new Blob([file]), 'model.safetensors');
      const res = await fetch(url, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      answers[name] = res.status;
    }
    const [sa, sb] = await Promise.all([coordinator.waitForTraining(clean), coordinator.waitForTraining(attacked)]);
    assert.deepEqual(answers, { 'forged token': 401, 'wrong round': 409 });
    assert.equal(sa.status, 'finished', sa.message);
    assert.equal(sb.status, 'finished', sb.message);
    assert.deepEqual(decodeModelFile(coordinator.exportModel(attacked).bytes).params, decodeModelFile(coordinator.exportModel(clean).bytes).params);
  });

  it('drops a client that never answers at the round deadline and goes on with the others', async () => {
    // client-3's trainer exits at once without uploading: the agent is alive, the update never comes.
    const id = coordinator.startTraining({ ...BASE, rounds: 2, minClients: 2, roundTimeoutSeconds: 3, clientTrainers: { 2: { executor: '/bin/true', script: '', timeoutSeconds: 5 } } });
    const s = await coordinator.waitForTraining(id);
    assert.equal(s.status, 'finished', s.message);
    assert.equal(s.clients.find((c) => c.client_id === 'client-3')!.drop_reason, 'no update before the round 1 deadline');
    assert.ok(s.rounds[0]!.duration_ms >= 3000 && s.rounds[0]!.duration_ms < 15_000, `round 1 took ${s.rounds[0]!.duration_ms} ms`);
    assert.deepEqual(s.rounds.map((r) => r.clients), [2, 2]);
    assert.deepEqual(containersOf(serverId), []);
  });
});
