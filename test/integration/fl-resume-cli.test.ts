// A training survives its daemon: SIGKILL mid-training and a restart (real CLI, foreground daemon, real dockerd sandboxes); fl resume and fl cancel.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnweddolDatabase } from '../../src/database/database.js';
import { FlStore } from '../../src/database/fl-store.js';
import { InProcessClientHost } from '../../src/fl/coordinator/in-process-client-host.js';
import { FL_TRAINING_LABEL } from '../../src/fl/coordinator/sandbox-client-host.js';
import { createTestInstall, jsonOf, runCli, startForeground, type Foreground, type TestInstall } from '../helpers/cli-runner.js';
import { docker } from '../helpers/docker-sandbox.js';
import { harness } from '../helpers/fl-harness.js';
import { until, untilValue } from '../helpers/until.js';

const dockerHost = process.env.DOCKER_HOST;
const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));
/** The request `fl train` sends for TRAIN_ARGS, for the in-process reference run. */
const TRAIN_ARGS = ['--clients', '2', '--rounds', '10', '--dataset', DIGITS, '--local-epochs', '1', '--lr', '0.1', '--seed', '5', '--round-timeout', '30'];
const REFERENCE = { clients: 2, rounds: 10, dataset: DIGITS, model: 'logreg' as const, split: 'iid', localEpochs: 1, learningRate: 0.1, minClients: 2, roundTimeoutSeconds: 30, mu: 0, seed: 5, keepSandboxes: false };

/** Waits on trainings of 10 sandboxed rounds on a loaded machine. */
const SLOW_MS = 240_000;

const flContainers = (training: string) => docker(['ps', '-aq', '--filter', `label=${FL_TRAINING_LABEL}=${training}`]).split('\n').filter(Boolean);

/** The training's rounds as the SQLite file holds them (read between or after daemons). */
function storedRounds<T>(install: TestInstall, read: (store: FlStore) => T): T {
  const database = new AnweddolDatabase(join(install.dir, 'db/anweddol.db'));
  try {
    return read(new FlStore(database));
  } finally {
    database.close();
  }
}

/** Accuracy per round of the same training with in-process agents (same code, same seeds, no Docker). */
async function inProcessAccuracies(): Promise<number[]> {
  const h = await harness(new InProcessClientHost());
  try {
    const s = await h.coordinator.waitForTraining(h.coordinator.startTraining(REFERENCE));
    assert.equal(s.status, 'finished', s.message);
    return s.rounds.map((r) => r.accuracy);
  } finally {
    await h.close();
  }
}

describe('FL trainings across daemon restarts', { skip: dockerHost?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  let install: TestInstall;
  let daemon: Foreground | undefined;
  const cli = (...args: string[]) => runCli([...args, '--config', install.configPath], { timeoutMs: 300_000 });
  const status = async (id: string) => jsonOf(await cli('fl', 'status', id, '--json')).data as { status: string; message: string; resumed: number; final_accuracy: number; rounds: Array<{ round: number; accuracy: number }> };

  async function boot(): Promise<void> {
    daemon = startForeground(['start', '--foreground', '--config', install.configPath]);
    await daemon.firstLine;
  }

  /** Starts `fl train` and SIGKILLs the daemon once the log shows `round` completed; returns the training id and its sandboxes then. */
  async function killAfterRound(round: number, args = TRAIN_ARGS): Promise<{ id: string; sandboxes: string[]; train: ReturnType<typeof cli> }> {
    const train = cli('fl', 'train', ...args, '--json');
    const id = await untilValue(() => new RegExp(`FL training ([0-9a-f-]{36}): round ${round} accuracy`).exec(daemon!.output())?.[1], SLOW_MS, { what: 'round log line', everyMs: 250 });
    daemon!.child.kill('SIGKILL');
    await daemon!.exit;
    const sandboxes = flContainers(id);
    return { id, sandboxes, train };
  }

  before(async () => {
    install = await createTestInstall({
      docker: { host: dockerHost! },
      container: { published_address: '127.0.0.1', max_allowed_running_container_domains: 3, container_memory: 512 },
      fl: { enabled: true },
    });
    await boot();
  });

  after(async () => {
    if (daemon && daemon.child.exitCode === null) {
      daemon.child.kill('SIGTERM');
      await daemon.exit;
    }
    install.remove();
  });

  it('finishes a training whose daemon was SIGKILLed after round 3 of 10: rounds 1–10 recorded once, accuracy within 1 point of an uninterrupted run', async (t) => {
    const { id, sandboxes, train } = await killAfterRound(3);
    assert.equal((await train).code, 1, 'fl train loses its daemon');
    assert.equal(sandboxes.length, 2, 'the dead daemon left its two client sandboxes');
    const before = storedRounds(install, (store) => store.rounds(id).filter((r) => r.finishedAt !== null).map((r) => r.globalModelUuid));
    assert.ok(before.length >= 4, 'rounds 0–3 were recorded before the kill');
    await boot();
    const s = await untilValue(async () => {
      const st = await status(id);
      return ['finished', 'failed', 'cancelled'].includes(st.status) ? st : undefined;
    }, SLOW_MS, { what: 'the resumed training to end', everyMs: 250 });
    assert.equal(s.status, 'finished', s.message);
    assert.equal(s.resumed, 1);
    assert.deepEqual(s.rounds.map((r) => r.round), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.match((await cli('fl', 'status', id)).stdout, /resumed 1 time\(s\)/);
    // Every round once in the store, each with both clients' updates once; the rounds completed before the kill were not run again.
    storedRounds(install, (store) => {
      const rounds = store.rounds(id);
      assert.deepEqual(rounds.map((r) => [r.round, r.finishedAt !== null]), Array.from({ length: 11 }, (_, i) => [i, true]));
      assert.deepEqual(rounds.slice(0, before.length).map((r) => r.globalModelUuid), before);
      const fits = store.participation(id).filter((p) => p.phase === 'fit');
      assert.deepEqual(fits.map((p) => p.round), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10]);
    });
    // The dead daemon's sandboxes were reconciled away; the resumed run's own are gone with it.
    for (const old of sandboxes) assert.equal(docker(['ps', '-aq', '--filter', `id=${old}`]), '', `sandbox ${old} survived the restart`);
    // The training reports finished as its teardown starts; its sandboxes must be gone shortly after.
    await until(() => flContainers(id).length === 0, 60_000, { what: 'the resumed run\'s sandboxes to be removed', everyMs: 250 });
    const reference = await inProcessAccuracies();
    t.diagnostic(`sandboxed, killed after round 3: ${s.rounds.map((r) => (r.accuracy * 100).toFixed(2)).join(' ')}`);
    t.diagnostic(`in-process, uninterrupted:      ${reference.map((a) => (a * 100).toFixed(2)).join(' ')}`);
    assert.ok(Math.abs(s.final_accuracy - reference.at(-1)!) <= 0.01, `${s.final_accuracy} vs ${reference.at(-1)}`);
  });

  it('keeps a killed training interrupted with fl.resume_on_start off; fl resume continues it and fl cancel ends it and its sandboxes', async () => {
    install.config.fl!.resume_on_start = false;
    install.save();
    daemon!.child.kill('SIGTERM');
    await daemon!.exit;
    await boot();
    // Long enough that the cancel lands mid-training.
    const { id, train } = await killAfterRound(1, [...TRAIN_ARGS.slice(0, 2), '--rounds', '500', ...TRAIN_ARGS.slice(4)]);
    await train;
    await boot();
    assert.equal((await status(id)).status, 'interrupted');
    const resumed = await cli('fl', 'resume', id, '--json');
    assert.equal(resumed.code, 0, resumed.stderr + resumed.stdout);
    assert.match(jsonOf(resumed).message, /resumed \(1 time\(s\)\)/);
    await until(async () => (await status(id)).rounds.length >= 2, SLOW_MS, { what: 'the resumed training to run a round', everyMs: 250 });
    const cancelled = await cli('fl', 'cancel', id, '--json');
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(jsonOf(cancelled).data.status, 'cancelled');
    assert.deepEqual(flContainers(id), []);
    const again = await cli('fl', 'cancel', id);
    assert.equal(again.code, 1);
    assert.match(again.stderr.trim(), new RegExp(`training ${id} is already cancelled$`));
  });

  it('fl resume and fl cancel name an unknown training in one line', async () => {
    for (const verb of ['resume', 'cancel']) {
      const run = await cli('fl', verb, 'no-such-training');
      assert.equal(run.code, 1);
      assert.match(run.stderr.trim(), /no training no-such-training$/);
    }
  });
});
