// `anweddol-server seccomp-profile`: the sandboxes' profile derived from a (synthetic) base, written for swarm nodes' dockerd, and its one-line refusals.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';

const BASE = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'ioctl'], action: 'SCMP_ACT_ALLOW', args: [] }] };

describe('anweddol-server seccomp-profile', () => {
  let install: TestInstall;
  let base: string;
  const withConfig = (...args: string[]) => [...args, '--config', install.configPath];

  before(async () => {
    install = await createTestInstall();
    base = join(install.dir, 'docker-default.json');
    writeFileSync(base, JSON.stringify(BASE));
    install.config.container = { ...install.config.container, seccomp_profile: base };
    install.save();
  });

  after(() => install.remove());

  it("writes the profile derived from container.seccomp_profile to --out, readable by the node's dockerd", async () => {
    const out = join(install.dir, 'sandbox-seccomp.json');
    const run = await runCli(withConfig('seccomp-profile', '--out', out, '--json'));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(jsonOf(run).data, { base, out });
    const profile = JSON.parse(readFileSync(out, 'utf8')) as typeof BASE;
    assert.deepEqual(profile.syscalls.map((rule) => rule.names), [['read'], ['ioctl']]);
    assert.equal(statSync(out).mode & 0o777, 0o644);
  });

  it('prints the profile on stdout without --out', async () => {
    const run = await runCli(withConfig('seccomp-profile'));
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as typeof BASE).syscalls.length, 2);
  });

  it('refuses a base without the unconditional ioctl allow on one line naming --base', async () => {
    const bad = join(install.dir, 'no-ioctl.json');
    writeFileSync(bad, JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [] }));
    const run = await runCli(['seccomp-profile', '--base', bad, '--json']);
    assert.equal(run.code, 1);
    assert.match(jsonOf(run).message, new RegExp(`^--base: ${bad} is unusable: expected exactly one rule naming ioctl`));
  });

  it('asks for --base when container.seccomp_profile is null', async () => {
    install.config.container = { ...install.config.container, seccomp_profile: null };
    install.save();
    try {
      const run = await runCli(withConfig('seccomp-profile', '--json'));
      assert.equal(run.code, 1);
      assert.match(jsonOf(run).message, /^container\.seccomp_profile is null: give --base FILE/);
    } finally {
      install.config.container = { ...install.config.container, seccomp_profile: base };
      install.save();
    }
  });
});
