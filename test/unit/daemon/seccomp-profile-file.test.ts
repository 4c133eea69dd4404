// container.seccomp_profile read at start: the derived profile from a good base, one line naming the key and the fix otherwise.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSandboxSeccompProfile, NO_SECCOMP_PROFILE_WARNING, seccompProfileWarnings } from '../../../src/daemon/seccomp-profile-file.js';

const BASE = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'ioctl'], action: 'SCMP_ACT_ALLOW', args: [] }] };
const FIX = /; run scripts\/setup\.sh .* or set it to null$/;

function config(seccomp_profile: string | null, disk_limit: number | null = 3072, mode: 'engine' | 'swarm' = 'engine') {
  return { container: { seccomp_profile, disk_limit }, docker: { mode } } as Parameters<typeof seccompProfileWarnings>[0];
}

describe('loadSandboxSeccompProfile', () => {
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'anweddol-seccomp-'));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('answers the derived profile as JSON text, ioctl no longer unconditional', () => {
    const profile = JSON.parse(loadSandboxSeccompProfile(config(file('good.json', JSON.stringify(BASE))))!) as typeof BASE;
    assert.deepEqual(profile.syscalls[0]!.names, ['read']);
    assert.equal(profile.syscalls[1]!.args.length, 255);
  });

  it('answers null when the key is null', () => {
    assert.equal(loadSandboxSeccompProfile(config(null)), null);
  });

  it('names the key, the file and the fix when the file is missing', () => {
    const path = join(dir, 'missing.json');
    assert.throws(() => loadSandboxSeccompProfile(config(path)), (error: Error) => {
      assert.ok(error.message.startsWith(`container.seccomp_profile: cannot read ${path} (ENOENT)`), error.message);
      assert.match(error.message, FIX);
      return true;
    });
  });

  it('refuses a file that is not JSON', () => {
    const path = file('broken.json', '{"defaultAction": ');
    assert.throws(() => loadSandboxSeccompProfile(config(path)), (error: Error) => error.message.startsWith(`container.seccomp_profile: ${path} is unusable: not valid JSON;`) && FIX.test(error.message));
  });

  it('refuses a profile without the unconditional ioctl allow, saying why', () => {
    const path = file('no-ioctl.json', JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] }));
    assert.throws(() => loadSandboxSeccompProfile(config(path)), /is unusable: expected exactly one rule naming ioctl/);
  });
});

describe('seccompProfileWarnings', () => {
  it('warns that subvolumes escape the disk limit when the profile is null on an engine with a disk limit', () => {
    assert.deepEqual(seccompProfileWarnings(config(null)), [NO_SECCOMP_PROFILE_WARNING]);
  });

  it('says nothing with a profile, without a disk limit, or on a swarm', () => {
    assert.deepEqual(seccompProfileWarnings(config('/p.json')), []);
    assert.deepEqual(seccompProfileWarnings(config(null, null)), []);
    assert.deepEqual(seccompProfileWarnings(config(null, 3072, 'swarm')), []);
  });
});
