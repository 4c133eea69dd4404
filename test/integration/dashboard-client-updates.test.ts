// The dashboard's per-client downloads after a real training in sandboxes (real dockerd): each client's latest update as safetensors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { parameterLayout, type ModelSpec } from '../../src/fl/model/classifier.js';
import { decodeModelFile } from '../../src/fl/model/model-file.js';
import { decodeSafetensors } from '../../src/fl/model/safetensors.js';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';

const dockerHost = process.env.DOCKER_HOST;
/** A sandbox network of its own: another test's egress rules on a shared bridge would cut the FL agents off. */
const NETWORK = `anw-updates-${process.pid}`;
const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));
const SPEC: ModelSpec = { kind: 'logreg', inputs: 64, classes: 10, hidden: 0 };

interface ListedUpdate {
  client_id: string;
  round: number;
  bytes: number;
  download: string;
}

describe('client updates on the dashboard', { skip: dockerHost?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
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

  before(async () => {
    install = await createTestInstall({
      docker: { host: dockerHost! },
      container: { network_name: NETWORK, published_address: '127.0.0.1', max_allowed_running_container_domains: 2, container_memory: 512 },
      fl: { enabled: true },
    });
    daemon = await startDaemon(loadConfig(install.configPath, {}));
    origin = `http://127.0.0.1:${install.config.metrics!.listen_port as number}`;
    const login = await fetch(String(jsonOf(await runCli(['dashboard-url', '--json', '--config', install.configPath])).data.url), { redirect: 'manual' });
    cookie = /^anweddol_dashboard=[^;]+/.exec(login.headers.get('set-cookie') ?? '')![0];
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

  after(async () => {
    await daemon?.stop();
    install?.remove();
    try {
      execFileSync('docker', ['network', 'rm', NETWORK], { stdio: 'ignore' });
    } catch {
      // never made, or already gone
    }
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
