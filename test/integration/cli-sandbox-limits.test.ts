// `start --check` and `start` on sandbox limits they cannot honour: a storage driver that cannot cap disks, an nproc limit sandboxes share.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { FakeDockerEngine } from '../helpers/fake-docker-engine.js';

const DISK_PROBLEM = /^container\.disk_limit: Docker storage driver overlay2 on extfs cannot enforce a per-sandbox disk limit .*set container\.disk_limit: null$/;

describe('container.disk_limit on an engine that cannot enforce it', () => {
  let install: TestInstall;
  let engine: FakeDockerEngine;
  const withConfig = (...args: string[]) => [...args, '--config', install.configPath];

  before(async () => {
    install = await createTestInstall();
    engine = new FakeDockerEngine({ mode: 'answer', info: { Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs']] } });
    const socket = join(install.dir, 'engine.sock');
    await engine.listen(socket);
    install.config.docker = { host: `unix://${socket}` };
    install.save();
  });

  after(async () => {
    await engine.close();
    install.remove();
  });

  function useDiskLimit(limit: number | null): void {
    install.config.container = { ...install.config.container, disk_limit: limit };
    install.save();
  }

  it('start --check reports it on one line naming both fixes', async () => {
    useDiskLimit(3072);
    const run = await runCli(withConfig('start', '--check', '--json'));
    assert.equal(run.code, 1);
    const problems = jsonOf(run).data.problems as string[];
    assert.equal(problems.filter((p) => DISK_PROBLEM.test(p)).length, 1, problems.join('\n'));
  });

  it('start --check does not look at the storage driver with disk_limit: null', async () => {
    useDiskLimit(null);
    const run = await runCli(withConfig('start', '--check', '--json'));
    const problems = jsonOf(run).data.problems as string[];
    assert.deepEqual(problems.filter((p) => p.startsWith('container.disk_limit')), []);
  });

  it('start --check reports an nproc limit that full sandboxes would exhaust for the others', async () => {
    useDiskLimit(null);
    const saved = install.config.container;
    install.config.container = { ...saved, nproc_limit: 1000, pids_limit: 256, max_allowed_running_container_domains: 6 };
    install.save();
    try {
      const problems = jsonOf(await runCli(withConfig('start', '--check', '--json'))).data.problems as string[];
      assert.deepEqual(problems.filter((p) => p.startsWith('container.nproc_limit')), [
        'container.nproc_limit: 1000 is not above max_allowed_running_container_domains × pids_limit (1536): the kernel counts it per UID, shared by the client users of all sandboxes, so full sandboxes would stop logins in the others',
      ]);
    } finally {
      install.config.container = saved;
      install.save();
    }
  });

  it('start refuses with that line and leaves no pid file or listener', async () => {
    useDiskLimit(3072);
    const run = await runCli(withConfig('start', '--foreground', '--json'));
    assert.equal(run.code, 1);
    assert.match(jsonOf(run).message, /container\.disk_limit: Docker storage driver overlay2 on extfs cannot enforce .*set container\.disk_limit: null/);
    const status = await runCli(withConfig('status', '--json'));
    assert.match(jsonOf(status).message, /not running/);
  });
});
