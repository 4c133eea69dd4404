// scripts/dockerd.sh and iso/build.sh as callers use them: one line on stdout, safe no-ops, cached rebuilds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { docker, dockerHost, REPO, SANDBOX_IMAGE } from '../helpers/docker-sandbox.js';

const dir = mkdtempSync(join(tmpdir(), 'anw-scripts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function dockerdScript(action: string) {
  return spawnSync('bash', [join(REPO, 'scripts/dockerd.sh'), action], {
    env: { ...process.env, ANWEDDOL_DOCKERD_DIR: join(dir, 'none') },
    encoding: 'utf8',
  });
}

describe('scripts/dockerd.sh', () => {
  it('stops nothing and succeeds when no daemon runs', () => {
    const result = dockerdScript('down');
    assert.equal(result.status, 0);
    assert.equal(result.stdout, '');
  });

  it('reports status 1 when no daemon runs', () => {
    const result = dockerdScript('status');
    assert.equal(result.status, 1);
    assert.equal(result.stdout, '');
  });

  it('rejects an unknown action with a usage line', () => {
    const result = dockerdScript('restart');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /usage: .* up\|down\|status/);
  });

  it('rejects an unknown storage mode', () => {
    const result = spawnSync('bash', [join(REPO, 'scripts/dockerd.sh'), 'status'], {
      env: { ...process.env, ANWEDDOL_DOCKERD_DIR: join(dir, 'none'), ANWEDDOL_DOCKERD_STORAGE: 'ext4' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /ANWEDDOL_DOCKERD_STORAGE must be overlay2 or btrfs/);
  });

  it('refuses to reuse a running daemon of the other storage driver, touching nothing', () => {
    const host = dockerHost();
    const running = docker(['info', '--format', '{{.Driver}}']);
    const result = spawnSync('bash', [join(REPO, 'scripts/dockerd.sh'), 'up'], {
      env: { ...process.env, ANWEDDOL_DOCKERD_DIR: host.replace(/^unix:\/\//, '').replace(/\/docker\.sock$/, ''), ANWEDDOL_DOCKERD_STORAGE: running === 'btrfs' ? 'overlay2' : 'btrfs' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`uses storage driver ${running}, not .*dockerd\\.sh down`));
    assert.equal(docker(['info', '--format', '{{.Driver}}']), running, 'the daemon still answers');
  });

  it('prints exactly one DOCKER_HOST line when the daemon answers', () => {
    const host = dockerHost();
    const result = spawnSync('bash', [join(REPO, 'scripts/dockerd.sh'), 'status'], {
      env: { ...process.env, ANWEDDOL_DOCKERD_DIR: host.replace(/^unix:\/\//, '').replace(/\/docker\.sock$/, '') },
      encoding: 'utf8',
    });
    assert.equal(result.status, 0);
    assert.equal(result.stdout, `DOCKER_HOST=${host}\n`);
  });
});

describe('iso/build.sh', () => {
  it('reuses the existing image for an unchanged recipe and prints only its ID on stdout', () => {
    const started = Date.now();
    const result = spawnSync('bash', [join(REPO, 'iso/build.sh')], { env: { ...process.env, DOCKER_HOST: dockerHost() }, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(result.stdout.trim(), docker(['image', 'inspect', '--format', '{{.Id}}', SANDBOX_IMAGE]));
    assert.ok(Date.now() - started < 30_000);
  });

  it('bakes no SSH host key into the image and locks root', () => {
    const out = docker(['run', '--rm', '--entrypoint', 'sh', SANDBOX_IMAGE, '-c', 'ls /etc/ssh/ | grep -c host_key; grep ^root: /etc/shadow | cut -d: -f2']);
    assert.deepEqual(out.split('\n'), ['0', '!*']);
  });
});
