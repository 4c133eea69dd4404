// FL sandboxes under the server's sandbox rules (real daemon, dockerd and image): capacity and STAT, limits and network as CREATE's, the training's deadline as their lifetime.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { serverIdFor } from '../../src/daemon/virtualization-factory.js';
import { FL_TRAINING_LABEL } from '../../src/fl/coordinator/sandbox-client-host.js';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { docker, ownSandboxImage } from '../helpers/docker-sandbox.js';
import { testClientKeyPair } from '../helpers/test-keys.js';
import { until, untilValue } from '../helpers/until.js';

const dockerHost = process.env.DOCKER_HOST;
const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));

/** A user trainer that sleeps through its round: the training outlasts the test without using the machine's CPU. */
function sleepingTrainer(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fl-sleeper-'));
  writeFileSync(join(dir, 'train'), '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });
  return dir;
}

// Generous: on this shared 2-core machine (load average 10–17) two sandboxes took up to 1 min 45 s to be ready.
/** The limits and placement a sandbox gets from the server's settings (not its identity or port). */
function sandboxRules(containerId: string): unknown {
  const [inspected] = JSON.parse(docker(['inspect', containerId])) as Array<{ HostConfig: Record<string, unknown>; NetworkSettings: { Networks: Record<string, unknown> } }>;
  const h = inspected!.HostConfig;
  return {
    networks: Object.keys(inspected!.NetworkSettings.Networks),
    ...Object.fromEntries(['StorageOpt', 'Memory', 'NanoCpus', 'PidsLimit', 'CapDrop', 'CapAdd', 'SecurityOpt', 'Ulimits', 'ReadonlyRootfs'].map((k) => [k, h[k]])),
  };
}

describe('FL sandboxes under the server\'s sandbox rules', { skip: dockerHost?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  let install: TestInstall;
  let serverId: string;
  const trainer = sleepingTrainer();
  /** Lasts until cancelled or cut by its deadline. */
  const endless = ['fl', 'train', '--clients', '2', '--rounds', '2', '--round-timeout', '600', '--dataset', DIGITS, '--trainer', trainer, '--json'];
  const cli = (...args: string[]) => runCli([...args, '--config', install.configPath], { timeoutMs: 600_000 });
  const tcp = async () =>
    new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 60_000 });
  /** This daemon's FL sandboxes: container id → training uuid. */
  const flSandboxes = (): Map<string, string> =>
    new Map(docker(['ps', '-a', '--filter', `label=anweddol.server=${serverId}`, '--filter', `label=${FL_TRAINING_LABEL}`, '--format', `{{.ID}} {{.Label "${FL_TRAINING_LABEL}"}}`])
      .split('\n').filter(Boolean).map((line) => line.split(' ') as [string, string]));

  before(async () => {
    install = await createTestInstall({
      docker: { host: dockerHost! },
      // This checkout's image: its agent runs user trainers, whatever `latest` is now.
      container: { image: ownSandboxImage(), published_address: '127.0.0.1', max_allowed_running_container_domains: 3, container_memory: 512 },
      fl: { enabled: true },
    });
    serverId = serverIdFor(loadConfig(install.configPath, {}));
    const start = await cli('start');
    assert.equal(start.code, 0, start.stderr.slice(-2000));
  });

  after(async () => {
    await cli('stop');
    install.remove();
    rmSync(trainer, { recursive: true, force: true });
  });

  it('counts a running training\'s sandboxes against the capacity and in STAT available, and gives them the limits and network of a CREATE', async () => {
    const training = cli(...endless);
    // Running: its agents are up and its sandboxes were announced (a container exists a while before that).
    const trainingId = await untilValue(async () => {
      const [t] = jsonOf(await cli('fl', 'status', '--json')).data.trainings as Array<{ training_uuid: string; status: string; message: string }>;
      if (t !== undefined && ['failed', 'cancelled', 'finished'].includes(t.status)) assert.fail(`the training ended: ${t.status} ${t.message}`);
      return t?.status === 'running' ? t.training_uuid : undefined;
    }, 600_000, { what: 'the training to run', everyMs: 250 });
    const sandboxes = flSandboxes();
    assert.equal(sandboxes.size, 2);
    try {
      assert.equal((await (await tcp()).stat()).data.available, 1);
      const created = await (await tcp()).create();
      assert.equal(created.message, 'OK', JSON.stringify(created));
      assert.equal((await (await tcp()).stat()).data.available, 0);
      const refused = await (await tcp()).create();
      assert.equal(refused.message, 'Unavailable (Maximum number of sandboxes reached)');
      const clientSandbox = docker(['ps', '-q', '--filter', `label=anweddol.server=${serverId}`]).split('\n').find((id) => !sandboxes.has(id));
      assert.ok(clientSandbox, 'the client\'s sandbox');
      const rules = sandboxRules(clientSandbox);
      assert.deepEqual((rules as { StorageOpt: unknown }).StorageOpt, { size: '3072M' }, 'container.disk_limit applies');
      for (const id of sandboxes.keys()) assert.deepEqual(sandboxRules(id), rules, `FL sandbox ${id} differs from a CREATE's`);
      const { container_uuid, client_token } = created.data as Record<string, string>;
      assert.equal((await (await tcp()).destroy(container_uuid, client_token)).message, 'OK');
    } finally {
      await cli('fl', 'cancel', trainingId!);
      await training;
    }
    assert.equal((await (await tcp()).stat()).data.available, 3);
  });

  it('destroys the sandboxes of a training that overruns its deadline with reason expired, and the training fails naming the deadline', async () => {
    const started = Date.now();
    const run = await cli(...endless, '--deadline', '25');
    const elapsed = (Date.now() - started) / 1000;
    assert.equal(run.code, 1, run.stdout + run.stderr.slice(-2000));
    const out = jsonOf(run);
    const id = (out.data as { training_uuid: string }).training_uuid;
    assert.match(out.message, /training failed: ran past its deadline of 25 s: /);
    // No upper bound but the CLI's: without the deadline, the sleeping trainers hold it 2 × 600 s. Provisioning on a loaded machine may outlast 25 s.
    assert.ok(elapsed >= 25, `ended after ${elapsed} s`);
    const status = jsonOf(await cli('fl', 'status', id, '--json'));
    assert.deepEqual((status.data.clients as Array<{ drop_reason: string }>).map((c) => c.drop_reason), ['sandbox ended (expired)', 'sandbox ended (expired)']);
    // The training hears of the expiry as it begins; dockerd's removal took up to 15 s at load average 14.
    await until(() => ![...flSandboxes().values()].includes(id), 120_000, { what: 'its sandboxes to be removed', everyMs: 250 });
    const log = readFileSync(join(install.dir, 'log/server.log'), 'utf8');
    for (const client of ['client-1', 'client-2']) assert.match(log, new RegExp(`FL training ${id} ${client}: sandbox [0-9a-f]{12} destroyed \\(expired\\)`));
  });
});
