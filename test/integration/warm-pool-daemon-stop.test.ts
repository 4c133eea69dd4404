// The CLI daemon stopped (SIGTERM, `stop`) or killed while its warm pool fills: nothing of the pool outlives it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { after, before, describe, it } from 'node:test';
import { serverIdFor } from '../../src/daemon/virtualization-factory.js';
import { POOL_LABEL } from '../../src/server/warm-pool/warm-pool.js';
import { createTestInstall, runCli, startForeground, type Foreground, type TestInstall } from '../helpers/cli-runner.js';
import { containersOf, docker, dockerHost, SANDBOX_IMAGE } from '../helpers/docker-sandbox.js';
import { until } from '../helpers/until.js';

// The sandbox image whose sshd never starts: every fill stays in progress (waiting for the banner) as long as the test wants,
// as fills do for tens of seconds on a loaded dockerd.
const STALLED_IMAGE = `anweddol/sandbox-test-stalled:${randomBytes(4).toString('hex')}`;
const installs: TestInstall[] = [];
const daemons: Foreground[] = [];

before(() => {
  execFileSync('docker', ['build', '-q', '-t', STALLED_IMAGE, '-'], {
    input: `FROM ${SANDBOX_IMAGE}\nCMD ["sleep", "infinity"]\n`,
    env: { ...process.env, DOCKER_HOST: dockerHost(), DOCKER_API_VERSION: '1.41' },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
});

after(() => {
  for (const d of daemons) d.child.kill('SIGKILL');
  for (const install of installs) {
    for (const id of containersOf(serverIdOf(install))) docker(['rm', '-f', id]);
    install.remove();
  }
  docker(['rmi', STALLED_IMAGE]);
});

const serverIdOf = (install: TestInstall) => serverIdFor({ database: { file_path: join(install.dir, 'db/anweddol.db') } });

/** A daemon config with a pool of 2 filling at once from `image`; the sshd wait outlasts any test bound. */
async function poolInstall(image: string): Promise<TestInstall> {
  const install = await createTestInstall({
    docker: { host: dockerHost() },
    container: { image, warm_pool_size: 2, warm_pool_refill_concurrency: 2, ready_timeout: 600 },
    metrics: { enabled: false },
  });
  installs.push(install);
  return install;
}

function startDaemon(install: TestInstall): Foreground {
  const daemon = startForeground(['start', '--foreground', '--config', install.configPath]);
  daemons.push(daemon);
  return daemon;
}

const running = (serverId: string) => docker(['ps', '-q', '--no-trunc', '--filter', `label=anweddol.server=${serverId}`, '--filter', `label=${POOL_LABEL}=1`]).split('\n').filter(Boolean);

/** A fill has a running container waiting for its sshd (the other may still be in dockerd's create: a stop must clean that up too). */
const poolFilling = (install: TestInstall) => until(() => running(serverIdOf(install)).length >= 1, 240_000, { what: 'a pool container running', everyMs: 200 });

function sessionRows(install: TestInstall): number {
  const db = new Database(join(install.dir, 'db/anweddol.db'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The exit code, or a failure when the daemon outlives `timeoutMs` (it is then killed, as a service manager would). */
async function exitWithin(daemon: Foreground, timeoutMs: number): Promise<number | null> {
  const timer = setTimeout(() => daemon.child.kill('SIGKILL'), timeoutMs);
  const code = await daemon.exit;
  clearTimeout(timer);
  assert.notEqual(daemon.child.signalCode, 'SIGKILL', `the daemon did not exit within ${timeoutMs} ms of its stop`);
  return code;
}

describe('a daemon stopped while its warm pool fills', () => {
  it('aborts the fills on SIGTERM, exits, and leaves no pool container and no session row', async () => {
    const install = await poolInstall(STALLED_IMAGE);
    const daemon = startDaemon(install);
    await daemon.firstLine;
    await poolFilling(install);
    daemon.child.kill('SIGTERM');
    assert.equal(await exitWithin(daemon, 60_000), 0);
    assert.deepEqual(containersOf(serverIdOf(install)), []);
    assert.equal(sessionRows(install), 0);
  });

  it('aborts the fills on `stop` through the CLI and leaves no pool container and no session row', async () => {
    const install = await poolInstall(STALLED_IMAGE);
    const started = await runCli(['start', '--json', '--config', install.configPath], { timeoutMs: 120_000 });
    assert.equal(started.code, 0, started.stdout + started.stderr);
    try {
      await poolFilling(install);
    } finally {
      const stopped = await runCli(['stop', '--json', '--config', install.configPath], { timeoutMs: 90_000 });
      assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
    }
    assert.deepEqual(containersOf(serverIdOf(install)), []);
    assert.equal(sessionRows(install), 0);
  });

  it('destroys the half-filled pool of a killed daemon at the next start, then fills it anew', async () => {
    const install = await poolInstall(STALLED_IMAGE);
    const killed = startDaemon(install);
    await killed.firstLine;
    await poolFilling(install);
    const abandoned = containersOf(serverIdOf(install));
    killed.child.kill('SIGKILL');
    await killed.exit;
    install.config.container!.image = SANDBOX_IMAGE;
    install.config.container!.ready_timeout = 60;
    install.save();
    const restarted = startDaemon(install);
    await restarted.firstLine;
    const fresh = () => running(serverIdOf(install)).filter((id) => !abandoned.includes(id));
    await until(() => fresh().length === 2, 120_000, { what: 'two new pool sandboxes', everyMs: 200 });
    assert.deepEqual(containersOf(serverIdOf(install)).filter((id) => abandoned.includes(id)), []);
    restarted.child.kill('SIGTERM');
    assert.equal(await exitWithin(restarted, 60_000), 0);
    assert.deepEqual(containersOf(serverIdOf(install)), []);
  });
});
