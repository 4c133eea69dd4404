import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';

// A pid file left by a crashed daemon whose pid the kernel has since handed to an unrelated process.
describe('stale pid file naming an unrelated live process', () => {
  let install: TestInstall;
  let stranger: ChildProcess;
  let pidFile: string;
  const cli = (...args: string[]) => runCli([...args, '--config', install.configPath]);
  const strangerAlive = () => stranger.exitCode === null && stranger.signalCode === null;

  before(async () => {
    install = await createTestInstall();
    pidFile = join(install.dir, 'run/server.pid');
    mkdirSync(join(install.dir, 'run'), { recursive: true });
    stranger = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await new Promise<void>((resolve) => stranger.once('spawn', resolve));
  });
  beforeEach(() => writeFileSync(pidFile, `${stranger.pid}\n`));
  after(async () => {
    await runCli(['stop', '--config', install.configPath]);
    stranger.kill('SIGKILL');
    install.remove();
  });

  it('start --check does not report the server as running', async () => {
    const json = jsonOf(await cli('start', '--check', '--json'));
    const problems = (json.data.problems ?? []) as string[];
    assert.equal(problems.some((p) => p.startsWith('server.pid_file_path')), false, problems.join('\n'));
  });

  it('status says not running, removes the file and says so in one line', async () => {
    const run = await cli('status', '--json');
    assert.equal(run.code, 3, run.stderr);
    assert.equal(jsonOf(run).data.running, false);
    assert.equal(existsSync(pidFile), false);
    const notices = run.stderr.trim().split('\n');
    assert.equal(notices.length, 1, run.stderr);
    assert.match(notices[0]!, new RegExp(`stale pid file .*server\\.pid.*pid ${stranger.pid} is not anweddol-server`));
  });

  it('stop leaves the unrelated process alone and removes the file', async () => {
    const run = await cli('stop');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /removed stale pid file .*\nServer is not running\n$/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(strangerAlive(), true);
    assert.equal(existsSync(pidFile), false);
  });

  it('start starts a daemon and writes its own pid', async () => {
    const run = await cli('start', '--json');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const pid = jsonOf(run).data.pid as number;
    assert.notEqual(pid, stranger.pid);
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(pid));
    assert.match(run.stderr, /stale pid file/);
    assert.equal(jsonOf(await cli('stop', '--json')).data.was_running, true);
    assert.equal(strangerAlive(), true);
  });
});
