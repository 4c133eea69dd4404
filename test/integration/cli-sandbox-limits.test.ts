// `start --check` and `start` on sandbox limits they cannot honour: a storage driver that cannot cap disks, an nproc limit sandboxes share, no usable seccomp profile.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { FakeDockerEngine } from '../helpers/fake-docker-engine.js';

/** A test install whose docker.host is a fake engine answering `docker info` with `info`. */
async function installOnFakeEngine(info: { Driver: string; DriverStatus: Array<[string, string]> }): Promise<{ install: TestInstall; engine: FakeDockerEngine }> {
  const install = await createTestInstall();
  const engine = new FakeDockerEngine({ mode: 'answer', info });
  const socket = join(install.dir, 'engine.sock');
  await engine.listen(socket);
  install.config.docker = { host: `unix://${socket}` };
  install.save();
  return { install, engine };
}

const SECCOMP_FIX = "run scripts/setup.sh (it fetches Docker's default profile for the installed engine), point container.seccomp_profile at that file, or set it to null";
const DISK_PROBLEM = /^container\.disk_limit: Docker storage driver overlay2 on extfs cannot enforce a per-sandbox disk limit .*set container\.disk_limit: null$/;

describe('container.disk_limit on an engine that cannot enforce it', () => {
  let install: TestInstall;
  let engine: FakeDockerEngine;
  const withConfig = (...args: string[]) => [...args, '--config', install.configPath];

  before(async () => {
    ({ install, engine } = await installOnFakeEngine({ Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs']] }));
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

describe('container.seccomp_profile that cannot be used', () => {
  let install: TestInstall;
  let engine: FakeDockerEngine;
  let missing: string;
  const withConfig = (...args: string[]) => [...args, '--config', install.configPath];

  before(async () => {
    ({ install, engine } = await installOnFakeEngine({ Driver: 'btrfs', DriverStatus: [] }));
    missing = join(install.dir, 'no-such-profile.json');
    install.config.container = { ...install.config.container, disk_limit: null, seccomp_profile: missing };
    install.save();
  });

  after(async () => {
    await engine.close();
    install.remove();
  });

  it('start --check reports a missing profile on one line naming the key and the fix', async () => {
    const run = await runCli(withConfig('start', '--check', '--json'));
    assert.equal(run.code, 1);
    const problems = (jsonOf(run).data.problems as string[]).filter((p) => p.startsWith('container.seccomp_profile'));
    assert.deepEqual(problems, [`container.seccomp_profile: cannot read ${missing} (ENOENT); ${SECCOMP_FIX}`]);
  });

  it('start refuses with that line, even past the check, and leaves no pid file or listener', async () => {
    const run = await runCli(withConfig('start', '--foreground', '--skip-check', '--json'));
    assert.equal(run.code, 1);
    assert.equal(jsonOf(run).message, `cannot start: container.seccomp_profile: cannot read ${missing} (ENOENT); ${SECCOMP_FIX}`);
    const status = await runCli(withConfig('status', '--json'));
    assert.match(jsonOf(status).message, /not running/);
  });
});
