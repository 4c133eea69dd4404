// The dashboard and metrics against a real dockerd: the warm pool on the overview, live events (SSE) and pool metrics after a real CREATE and DESTROY, and each FL client's latest update as a safetensors download after a real training.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { parameterLayout, type ModelSpec } from '../../src/fl/model/classifier.js';
import { decodeModelFile } from '../../src/fl/model/model-file.js';
import { decodeSafetensors } from '../../src/fl/model/safetensors.js';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
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

  before(async () => {
    install = await createTestInstall({
      docker: { host: dockerHost! },
      container: { network_name: NETWORK, published_address: '127.0.0.1', max_allowed_running_container_domains: 3, container_memory: 512, warm_pool_size: 1 },
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
    try {
      execFileSync('docker', ['network', 'rm', NETWORK], { stdio: 'ignore' });
    } catch {
      // never made, or already gone
    }
  });

  it('shows the ready warm pool on the overview and in anweddol_sandboxes', async () => {
    const deadline = Date.now() + 60_000;
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
        const client = new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 60_000 });
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
      const started = await fetch(`${origin}/dashboard/api/trainings/start`, {
        method: 'POST',
        headers: { cookie, origin, 'content-type': 'application/json' },
        body: JSON.stringify({ dataset: DIGITS, clients: 2, rounds: 2, localEpochs: 1, roundTimeoutSeconds: 60 }),
      });
      assert.equal(started.status, 200);
      training = ((await started.json()) as { training_uuid: string }).training_uuid;
      const deadline = Date.now() + 240_000;
      let status = '';
      while (!['finished', 'failed', 'cancelled'].includes(status) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        status = (await json<{ status: string }>(`/dashboard/api/trainings/${training}`)).status;
      }
      assert.equal(status, 'finished');
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
});
