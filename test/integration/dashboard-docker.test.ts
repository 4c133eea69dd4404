// The dashboard and metrics against a real dockerd: the warm pool on the overview, live events (SSE) and pool metrics after a real CREATE and DESTROY, and each FL client's latest update as a safetensors download after a real training, cancel.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { FL_TRAINING_LABEL } from '../../src/fl/coordinator/sandbox-client-host.js';
import { parameterLayout, type ModelSpec } from '../../src/fl/model/classifier.js';
import { decodeModelFile } from '../../src/fl/model/model-file.js';
import { decodeSafetensors } from '../../src/fl/model/safetensors.js';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { docker, removeNetworkIfAny } from '../helpers/docker-sandbox.js';
import { scrape } from '../helpers/prometheus-text.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

const dockerHost = process.env.DOCKER_HOST;
/** A sandbox network of its own: another test's egress rules on a shared bridge would cut the FL agents off. */
const NETWORK = `anw-dash-${process.pid}`;
const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));
const SPEC: ModelSpec = { kind: 'logreg', inputs: 64, classes: 10, hidden: 0 };
/** The fields an event may carry to a browser (src/daemon/dashboard/dashboard-events.ts). */
const PUBLIC_FIELDS = ['training_uuid', 'round', 'accuracy', 'loss', 'clients', 'status', 'reason', 'client_id'];

interface ListedUpdate {
  client_id: string;
  round: number;
  bytes: number;
  download: string;
}

describe('dashboard on a real dockerd', { skip: dockerHost?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  let install: TestInstall;
  let daemon: RunningDaemon;
  let origin = '';
  let cookie = '';
  let training = '';

  const get = (path: string, headers: Record<string, string> = { cookie }) => fetch(`${origin}${path}`, { headers });
  const json = async <T>(path: string): Promise<T> => {
    const response = await get(path);
    assert.equal(response.status, 200, `${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  };

  /** The SSE stream, read until an event of a given name arrived; resolves to everything read so far. */
  const openEvents = async () => {
    const abort = new AbortController();
    const response = await fetch(`${origin}/dashboard/api/events`, { headers: { cookie }, signal: abort.signal });
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    return {
      until: async (event: string) => {
        while (!text.includes(`event: ${event}\n`)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`the stream ended before ${event}`);
          text += decoder.decode(value, { stream: true });
        }
        return text;
      },
      close: () => abort.abort(),
    };
  };

  /** The sandboxes of a training, by the label the FL host puts on them. */
  const containersOf = (training: string) => docker(['ps', '-aq', '--filter', `label=${FL_TRAINING_LABEL}=${training}`]).split('\n').filter(Boolean);
  const until = async (condition: () => Promise<boolean>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  /** A same-origin JSON POST, as the pages send them. */
  const post = (path: string, body: object = {}) =>
    fetch(`${origin}${path}`, { method: 'POST', headers: { cookie, origin, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const startTraining = async (rounds: number): Promise<string> => {
    const started = await post('/dashboard/api/trainings/start', { dataset: DIGITS, clients: 2, rounds, localEpochs: 1, roundTimeoutSeconds: 120 });
    assert.equal(started.status, 200);
    return ((await started.json()) as { training_uuid: string }).training_uuid;
  };

  before(async () => {
    install = await createTestInstall({
      docker: { host: dockerHost! },
      // Room for the pool's sandbox, a finished training's two still being removed, and the next training's two.
      container: { network_name: NETWORK, published_address: '127.0.0.1', max_allowed_running_container_domains: 5, container_memory: 512, warm_pool_size: 1 },
      fl: { enabled: true },
    });
    daemon = await startDaemon(loadConfig(install.configPath, {}));
    origin = `http://127.0.0.1:${install.config.metrics!.listen_port as number}`;
    const login = await fetch(String(jsonOf(await runCli(['dashboard-url', '--json', '--config', install.configPath])).data.url), { redirect: 'manual' });
    cookie = /^anweddol_dashboard=[^;]+/.exec(login.headers.get('set-cookie') ?? '')![0];
  });

  after(async () => {
    await daemon?.stop();
    install?.remove();
    removeNetworkIfAny(NETWORK);
  });

  it('shows the ready warm pool on the overview and in anweddol_sandboxes', async () => {
    // A minute per docker run is common on the shared dockerd under load.
    const deadline = Date.now() + 300_000;
    let overview = await json<{ pool: number; pool_size: number }>('/dashboard/api/overview');
    while (overview.pool < 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      overview = await json('/dashboard/api/overview');
    }
    assert.deepEqual([overview.pool, overview.pool_size], [1, 1]);
    assert.equal((await scrape(`${origin}/metrics`)).value('anweddol_sandboxes', { state: 'pool' }), 1);
  });

  describe('a CREATE claimed from the warm pool, then its DESTROY', () => {
    let streamed = '';
    let data: { container_uuid: string; client_token: string; container_password: string };
    let poolCreates = 0;

    before(async () => {
      const stream = await openEvents();
      try {
        const before = await scrape(`${origin}/metrics`);
        const client = new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 180_000 });
        const created = await client.create();
        assert.equal(created.success, true, created.message);
        data = created.data as typeof data;
        await stream.until('created_container');
        const after = await scrape(`${origin}/metrics`);
        poolCreates = (after.value('anweddol_sandbox_create_seconds_count', { source: 'pool' }) ?? 0) - (before.value('anweddol_sandbox_create_seconds_count', { source: 'pool' }) ?? 0);
        assert.equal((await client.destroy(data.container_uuid, data.client_token)).success, true);
        streamed = await stream.until('destroyed_container');
      } finally {
        stream.close();
      }
    });

    it('streams created_container and destroyed_container to the dashboard, with no credential or address', () => {
      for (const secret of [data.container_uuid, data.client_token, data.container_password, '127.0.0.1']) assert.equal(streamed.includes(secret), false, 'a credential or an address reached the stream');
    });

    it('streams only the public fields of an event', () => {
      for (const line of streamed.split('\n').filter((l) => l.startsWith('data: '))) {
        for (const key of Object.keys(JSON.parse(line.slice(6)) as object)) assert.ok(PUBLIC_FIELDS.includes(key), `field ${key} reached the stream`);
      }
    });

    it('times the CREATE\'s sandbox under source pool', () => {
      assert.equal(poolCreates, 1);
    });
  });

  describe('client updates', () => {
    before(async () => {
      training = await startTraining(2);
      let state = { status: '', message: '' };
      await until(async () => ['finished', 'failed', 'cancelled'].includes((state = await json(`/dashboard/api/trainings/${training}`)).status), 480_000);
      assert.equal(state.status, 'finished', state.message);
    });

    it('lists each client\'s latest update with its round and a download link', async () => {
      const listed = await json<{ training_uuid: string; clients: ListedUpdate[] }>(`/dashboard/api/trainings/${training}/clients`);
      assert.equal(listed.training_uuid, training);
      assert.deepEqual(listed.clients.map((c) => [c.client_id, c.round, c.download]), [
        ['client-1', 2, `/dashboard/api/trainings/${training}/clients/client-1/model`],
        ['client-2', 2, `/dashboard/api/trainings/${training}/clients/client-2/model`],
      ]);
    });

    it('downloads an update as safetensors with the model\'s tensor names and shapes', async () => {
      const { clients } = await json<{ clients: ListedUpdate[] }>(`/dashboard/api/trainings/${training}/clients`);
      for (const client of clients) {
        const response = await get(client.download);
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('content-type'), 'application/octet-stream');
        assert.match(response.headers.get('content-disposition')!, new RegExp(`filename="${training}-${client.client_id}-round2\\.safetensors"`));
        const bytes = new Uint8Array(await response.arrayBuffer());
        assert.equal(bytes.length, client.bytes);
        const file = decodeSafetensors(bytes);
        const expected = [...parameterLayout(SPEC).map((t) => [t.name, t.shape]), ['input.mean', [64]], ['input.scale', [64]]];
        assert.deepEqual([...file.tensors].map(([name, t]) => [name, t.shape]).sort(), expected.sort());
        assert.equal(decodeModelFile(bytes, SPEC).metadata.owner, client.client_id);
      }
    });

    it('answers 404 for a client that sent no update', async () => {
      const response = await get(`/dashboard/api/trainings/${training}/clients/client-7/model`);
      assert.equal(response.status, 404);
      assert.match(((await response.json()) as { error: string }).error, /no update from client client-7/);
    });

    it('answers 404 for the updates of an unknown training', async () => {
      assert.equal((await get('/dashboard/api/trainings/00000000-0000-4000-8000-000000000000/clients')).status, 404);
    });

    it('answers 401 to a download without a session', async () => {
      assert.equal((await get(`/dashboard/api/trainings/${training}/clients/client-1/model`, {})).status, 401);
    });
  });

  it('cancels a running training with a same-origin JSON POST, and its sandboxes are gone when it answers', { timeout: 600_000 }, async () => {
    const id = await startTraining(50);
    let state = { status: '', message: '' };
    await until(async () => !['provisioning', 'waiting_clients'].includes((state = await json(`/dashboard/api/trainings/${id}`)).status), 480_000);
    assert.equal(state.status, 'running', state.message);
    assert.equal(containersOf(id).length, 2, 'the training runs in two sandboxes');
    const cancelled = await post(`/dashboard/api/trainings/${id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(((await cancelled.json()) as { status: string }).status, 'cancelled');
    assert.deepEqual(containersOf(id), []);
    assert.equal((await json<{ status: string }>(`/dashboard/api/trainings/${id}`)).status, 'cancelled');
  });
});
