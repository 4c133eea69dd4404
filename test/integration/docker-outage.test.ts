// dockerd going away and coming back, on a throwaway private dockerd (never the shared one): Unavailable, then recovery.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { containersOf, docker, REPO, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';
import { startSandboxServer, type CreatedData, type SandboxServer } from '../helpers/sandbox-server.js';

const serverId = uniqueServerId('outage');
const dir = mkdtempSync(join(tmpdir(), 'anw-outage-'));
// Its own address pool, so its bridge never overlaps the shared daemon's networks.
const pool = `base=10.${240 + Math.floor(Math.random() * 10)}.0.0/16,size=24`;
const env = { ...process.env, ANWEDDOL_DOCKERD_DIR: join(dir, 'd'), ANWEDDOL_DOCKERD_POOL: pool };

function dockerd(action: 'up' | 'down'): string {
  const out = execFileSync('bash', [join(REPO, 'scripts/dockerd.sh'), action], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trim().replace(/^DOCKER_HOST=/, '');
}

function waitFor(s: SandboxServer, available: boolean, timeoutMs: number): Promise<void> {
  if (s.backend.isAvailable() === available) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.backend.off('availability_changed', listener);
      reject(new Error(`backend not ${available ? 'available' : 'unavailable'} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (now: boolean) => {
      if (now !== available) return;
      clearTimeout(timer);
      s.backend.off('availability_changed', listener);
      resolve();
    };
    s.backend.on('availability_changed', listener);
  });
}

describe('a dockerd outage', () => {
  let host: string;
  let s: SandboxServer;
  let before1: CreatedData;

  before(async () => {
    host = dockerd('up');
    // The image factory's cached rootfs makes this an import + one layer.
    execFileSync('bash', [join(REPO, 'iso/build.sh')], { env: { ...env, DOCKER_HOST: host }, stdio: 'ignore' });
    s = await startSandboxServer({
      databaseFile: join(dir, 'anweddol.db'),
      maxSandboxes: 4,
      backend: { dockerHost: host, serverId, maxReconnectDelayMs: 500, portRange: [13500, 13999] },
    });
  });

  after(async () => {
    await s?.stop();
    try {
      if (host !== undefined) {
        for (const id of containersOf(serverId, host)) docker(['rm', '-f', id], host);
        // The server removes its own empty network at stop.
        assert.equal(docker(['network', 'ls', '--quiet', '--filter', `name=^${serverId}-sandboxes$`], host), '', 'sandbox network removed at stop');
      }
    } finally {
      dockerd('down');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves CREATE while dockerd runs', async () => {
    const created = await s.client.create();
    assert.equal(created.message, 'OK');
    before1 = created.data as unknown as CreatedData;
    assert.equal(s.backend.isAvailable(), true);
  });

  it('answers CREATE with Unavailable and still answers STAT once dockerd is gone', async () => {
    const gone = waitFor(s, false, 30_000);
    dockerd('down');
    await gone;
    const created = await s.client.create();
    assert.equal(created.success, false);
    assert.match(created.message, /^Unavailable \(virtualization backend/);
    const stat = await s.client.stat();
    assert.equal(stat.success, true);
    assert.equal(s.backend.isAvailable(), false);
  });

  it('creates sandboxes again once dockerd is back, without a restart', async () => {
    const back = waitFor(s, true, 30_000);
    dockerd('up');
    await back;
    // The sandbox from before the outage did not survive it: its session is gone, its slot is free.
    const deadline = Date.now() + 5000;
    while (s.sessions.count() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.sessions.count(), 0);
    assert.equal((await s.client.destroy(before1.container_uuid, before1.client_token)).message, 'Bad authentication');
    const created = await s.client.create();
    assert.equal(created.message, 'OK');
    const data = created.data as unknown as CreatedData;
    const ssh = await sshRun(data.container_listen_port, data.container_username, data.container_password, 'echo back');
    assert.equal(ssh.stdout, 'back\n');
    assert.equal((await s.client.destroy(data.container_uuid, data.client_token)).message, 'OK');
    assert.deepEqual(containersOf(serverId, host), []);
    assert.equal(s.backend.portsInUse(), 0, 'the port of the sandbox lost in the outage is free again');
  });
});
