// `anweddol-server fl train|status|export` against a real daemon, real dockerd and the real sandbox image.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeModelFile } from '../../src/fl/model/model-file.js';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { cutDigits } from '../helpers/digits-files.js';

const dockerHost = process.env.DOCKER_HOST;
const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));

describe('fl commands against the daemon', { skip: dockerHost?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  let install: TestInstall;
  const cli = (...args: string[]) => runCli([...args, '--config', install.configPath], { timeoutMs: 300_000 });
  let trainingId = '';

  before(async () => {
    install = await createTestInstall({
      docker: { host: dockerHost! },
      container: { published_address: '127.0.0.1', max_allowed_running_container_domains: 3, container_memory: 512 },
      fl: { enabled: true },
    });
    const start = await cli('start');
    assert.equal(start.code, 0, start.stderr.slice(-2000));
  });

  after(async () => {
    await cli('stop');
    install.remove();
  });

  it('fl train runs 3 clients for 3 rounds and prints one JSON object with the rounds', async () => {
    const run = await cli('fl', 'train', '--clients', '3', '--rounds', '3', '--model', 'logreg', '--dataset', DIGITS, '--split', 'iid', '--local-epochs', '2', '--lr', '0.1', '--min-clients', '3', '--round-timeout', '30', '--json');
    assert.equal(run.code, 0, run.stderr.slice(-2000) + run.stdout);
    const out = jsonOf(run);
    assert.equal(out.status, 'OK');
    const data = out.data as { training_uuid: string; final_accuracy: number; rounds: Array<{ round: number; accuracy: number; loss: number; clients: number }> };
    assert.deepEqual(data.rounds.map((r) => [r.round, r.clients]), [[1, 3], [2, 3], [3, 3]]);
    assert.ok(data.final_accuracy > 0.85, String(data.final_accuracy));
    assert.equal(data.final_accuracy, data.rounds[2]!.accuracy);
    assert.match(run.stderr, /round 3: accuracy/);
    trainingId = data.training_uuid;
  });

  it('fl status shows the finished training and fl export writes its last model', async () => {
    assert.ok(trainingId);
    const status = jsonOf(await cli('fl', 'status', trainingId, '--json'));
    assert.equal(status.data.status, 'finished');
    const file = join(install.dir, 'model.safetensors');
    const exported = await cli('fl', 'export', trainingId, '--round', '2', '--out', file, '--json');
    assert.equal(exported.code, 0, exported.stderr);
    const model = decodeModelFile(readFileSync(file));
    assert.equal(model.metadata.round, '2');
    assert.equal(model.spec.kind, 'logreg');
    assert.equal(model.spec.inputs, 64);
  });

  it('fl export --client writes that client\'s latest update, owned by it', async () => {
    assert.ok(trainingId);
    const file = join(install.dir, 'client-2.safetensors');
    const exported = jsonOf(await cli('fl', 'export', trainingId, '--client', 'client-2', '--out', file, '--json'));
    assert.equal(exported.status, 'OK', exported.message);
    assert.deepEqual([exported.data.client_id, exported.data.round], ['client-2', 3]);
    const update = decodeModelFile(readFileSync(file));
    assert.equal(update.metadata.owner, 'client-2');
    assert.equal(update.metadata.training_uuid, trainingId);
  });

  it('fl export --client names a client that sent no update, and writes nothing', async () => {
    const file = join(install.dir, 'client-9.safetensors');
    const run = await cli('fl', 'export', trainingId, '--client', 'client-9', '--out', file, '--json');
    assert.equal(run.code, 1);
    assert.equal(jsonOf(run).message, `no update from client client-9 in training ${trainingId}`);
    assert.equal(existsSync(file), false);
  });

  it('fl export refuses --round with --client in one line', async () => {
    const run = await cli('fl', 'export', trainingId, '--client', 'client-2', '--round', '2', '--out', join(install.dir, 'x.safetensors'));
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim(), 'error: --round and --client do not go together: --client writes that client\'s latest update');
  });

  it('fl train fails with a clear message when the server capacity cannot hold min_clients sandboxes', async () => {
    const run = await cli('fl', 'train', '--clients', '4', '--rounds', '1', '--dataset', DIGITS, '--min-clients', '4', '--json');
    assert.equal(run.code, 1);
    const out = jsonOf(run);
    assert.equal(out.status, 'ERROR');
    assert.match(out.message, /training failed: only 3 of 4 clients became ready, min_clients is 4/);
    const status = jsonOf(await cli('fl', 'status', (out.data as { training_uuid: string }).training_uuid, '--json'));
    const clients = status.data.clients as Array<{ drop_reason: string | null }>;
    assert.ok(clients.some((c) => /capacity reached/.test(c.drop_reason ?? '')));
  });

  it('fl train --strategy fedadam --target-accuracy stops early and says finished (target reached)', async () => {
    const run = await cli('fl', 'train', '--clients', '3', '--rounds', '10', '--dataset', DIGITS, '--local-epochs', '1', '--strategy', 'fedadam', '--server-lr', '0.05', '--target-accuracy', '0.5', '--json');
    assert.equal(run.code, 0, run.stderr.slice(-2000) + run.stdout);
    const out = jsonOf(run);
    assert.match(out.message, /^training finished \(target reached\): accuracy/);
    assert.ok((out.data as { rounds: unknown[] }).rounds.length < 10);
    assert.match(run.stderr, /target accuracy reached at round \d+/);
    const status = await cli('fl', 'status', (out.data as { training_uuid: string }).training_uuid);
    assert.match(status.stdout, /: finished \(target reached\)/);
  });

  it('fl train --client-data with three files trains one sandbox per file, each evaluating its own held-out rows', async () => {
    const { files } = await cutDigits(install.dir);
    const run = await cli('fl', 'train', '--rounds', '2', '--client-data', ...files, '--local-epochs', '2', '--json');
    assert.equal(run.code, 0, run.stderr.slice(-2000) + run.stdout);
    const data = jsonOf(run).data as { training_uuid: string; final_accuracy: number; rounds: Array<{ round: number; clients: number }> };
    assert.deepEqual(data.rounds.map((r) => [r.round, r.clients]), [[1, 3], [2, 3]]);
    assert.ok(data.final_accuracy > 0.85, String(data.final_accuracy));
    const status = jsonOf(await cli('fl', 'status', data.training_uuid, '--json'));
    assert.equal((status.data.clients as unknown[]).length, 3);
  });

  it('fl train --client-data fails before round 1 when a file has other columns, naming the file and line', async () => {
    const { files } = await cutDigits(install.dir);
    const bad = join(install.dir, 'site-x.csv');
    writeFileSync(bad, '1,2,3\n4,5,1\n');
    const run = await cli('fl', 'train', '--rounds', '2', '--client-data', files[0]!, bad, '--json');
    assert.equal(run.code, 1);
    assert.match(jsonOf(run).message, new RegExp(`training failed: ${bad} line 1: 3 columns, but ${files[0]} has 65$`));
    assert.deepEqual((jsonOf(run).data as { rounds: unknown[] }).rounds, []);
  });

  it('fl train refuses a server option the strategy does not take, in one line naming it, before any sandbox', async () => {
    const run = await cli('fl', 'train', '--clients', '2', '--rounds', '1', '--dataset', DIGITS, '--strategy', 'fedadam', '--server-momentum', '0.9');
    assert.equal(run.code, 1);
    assert.match(run.stderr.trim(), /server-momentum applies to fedavgm, not to fedadam$/);
  });

  it('fl train --trainer refuses a directory holding a symbolic link, in one line naming it, before any sandbox', async () => {
    const trainer = mkdtempSync(join(tmpdir(), 'fl-cli-trainer-'));
    try {
      symlinkSync('/etc/passwd', join(trainer, 'train'));
      const run = await cli('fl', 'train', '--clients', '2', '--rounds', '1', '--dataset', DIGITS, '--trainer', trainer);
      assert.equal(run.code, 1);
      assert.match(run.stderr.trim(), /^error: trainer: .*\/train is a symbolic link \(links are refused: copy the file in\)$/);
    } finally {
      rmSync(trainer, { recursive: true, force: true });
    }
  });

  it('fl join refuses a training that is not running, in one line', async () => {
    const run = await cli('fl', 'join', '00000000-0000-4000-8000-000000000000');
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim(), 'error: no running training 00000000-0000-4000-8000-000000000000');
  });
});
