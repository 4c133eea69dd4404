// End to end: an unmodified-protocol client over real TCP → AnweddolServer → real dockerd sandboxes → real SSH.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sha256Hex } from '../../src/crypto/hash.js';
import { containersOf, docker, dockerHost, SANDBOX_IMAGE, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';
import { SandboxServerFiles } from '../helpers/sandbox-server-files.js';
import type { CreatedData, SandboxServer } from '../helpers/sandbox-server.js';
import { until } from '../helpers/until.js';

const serverId = uniqueServerId('server');
const servers = new SandboxServerFiles('e2e', { noneLeft: false });
const databaseFile = join(servers.dir, 'anweddol.db');

function start(maxSandboxes: number | null = 6): Promise<SandboxServer> {
  return servers.start({ databaseFile, maxSandboxes, backend: { dockerHost: dockerHost(), image: SANDBOX_IMAGE, serverId } });
}

async function create(s: SandboxServer): Promise<CreatedData> {
  const response = await s.client.create();
  assert.equal(response.message, 'OK', `CREATE answered ${response.message}`);
  return response.data as unknown as CreatedData;
}

async function available(s: SandboxServer): Promise<number | string> {
  const stat = await s.client.stat();
  assert.equal(stat.success, true);
  return (stat.data as { available: number | string }).available;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000, () => socket.destroy());
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('close', () => resolve(false));
    socket.once('error', () => {});
  });
}

describe('sandboxes through the Anweddol TCP protocol', () => {
  it('creates a sandbox the client logs into, then destroys it and frees its port', async () => {
    const s = await start();
    try {
      const data = await create(s);
      assert.match(data.container_iso_sha256, /^[0-9a-f]{64}$/);
      const result = await sshRun(data.container_listen_port, data.container_username, data.container_password, 'id -un; node -e "console.log(1+1)"');
      assert.equal(result.stdout, `${data.container_username}\n2\n`);
      const destroyed = await s.client.destroy(data.container_uuid, data.client_token);
      assert.equal(destroyed.message, 'OK');
      assert.deepEqual(containersOf(serverId), []);
      assert.equal(await portAnswers(data.container_listen_port), false);
      assert.equal(s.sessions.count(), 0);
    } finally {
      await servers.stop(s);
    }
  });

  it('answers Bad authentication to a wrong token or another sandbox token, and leaves the sandbox untouched', async () => {
    const s = await start();
    try {
      const a = await create(s);
      const b = await create(s);
      const wrong = await s.client.destroy(a.container_uuid, 'x'.repeat(255));
      assert.equal(wrong.message, 'Bad authentication');
      const crossed = await s.client.destroy(a.container_uuid, b.client_token);
      assert.equal(crossed.message, 'Bad authentication');
      assert.equal(containersOf(serverId).length, 2);
      const still = await sshRun(a.container_listen_port, a.container_username, a.container_password, 'echo still here');
      assert.equal(still.stdout, 'still here\n');
      assert.equal((await s.client.destroy(a.container_uuid, a.client_token)).message, 'OK');
      assert.equal((await s.client.destroy(b.container_uuid, b.client_token)).message, 'OK');
    } finally {
      await servers.stop(s);
    }
  });

  it('drops the session of a sandbox killed behind its back within 2 s', async () => {
    const s = await start(3);
    try {
      const data = await create(s);
      assert.equal(await available(s), 2);
      const session = s.sessions.findByUuidHash(sha256Hex(data.container_uuid));
      assert.ok(session !== undefined);
      docker(['kill', session.containerId]);
      const elapsed = await until(() => s.sessions.count() === 0, 2000);
      assert.ok(elapsed < 2000);
      assert.equal(await available(s), 3);
      const late = await s.client.destroy(data.container_uuid, data.client_token);
      assert.equal(late.message, 'Bad authentication');
      await until(() => containersOf(serverId).length === 0, 5000);
    } finally {
      await servers.stop(s);
    }
  });

  it('keeps a live sandbox across a server restart over the same database, and reconciles the rest', async () => {
    const first = await start();
    const kept = await create(first);
    const orphan = await create(first);
    const vanished = await create(first);
    await servers.stop(first);
    // While the server is down: one session loses its container, one container loses its session.
    const db = (await import('../../src/database/database.js')).AnweddolDatabase;
    const raw = new db(databaseFile);
    const orphanRow = raw.db.prepare('SELECT container_id FROM sessions WHERE container_uuid_sha256 = ?').get(sha256Hex(orphan.container_uuid)) as { container_id: string };
    const vanishedRow = raw.db.prepare('SELECT container_id FROM sessions WHERE container_uuid_sha256 = ?').get(sha256Hex(vanished.container_uuid)) as { container_id: string };
    raw.db.prepare('DELETE FROM sessions WHERE container_id = ?').run(orphanRow.container_id);
    raw.close();
    docker(['rm', '-f', vanishedRow.container_id]);

    const second = await start();
    try {
      assert.equal(second.sessions.count(), 1, 'only the live sandbox with a session remains');
      assert.equal(containersOf(serverId).length, 1, 'the orphan container is destroyed');
      const ssh = await sshRun(kept.container_listen_port, kept.container_username, kept.container_password, 'echo survived');
      assert.equal(ssh.stdout, 'survived\n');
      assert.equal((await second.client.destroy(kept.container_uuid, kept.client_token)).message, 'OK');
      assert.equal(await available(second), 6);
    } finally {
      await servers.stop(second);
    }
  });

  it('never runs more sandboxes than the cap under simultaneous CREATEs', async () => {
    const s = await start(3);
    try {
      const answers = await Promise.all(Array.from({ length: 7 }, () => s.client.create()));
      const ok = answers.filter((r) => r.message === 'OK');
      const refused = answers.filter((r) => r.message !== 'OK');
      assert.equal(ok.length, 3);
      for (const r of refused) assert.match(r.message, /^Unavailable/);
      assert.equal(containersOf(serverId).length, 3);
      assert.equal(await available(s), 0);
      const first = ok[0]!.data as unknown as CreatedData;
      assert.equal((await s.client.destroy(first.container_uuid, first.client_token)).message, 'OK');
      assert.equal(await available(s), 1);
      for (const r of ok.slice(1)) {
        const d = r.data as unknown as CreatedData;
        assert.equal((await s.client.destroy(d.container_uuid, d.client_token)).message, 'OK');
      }
      assert.equal(await available(s), 3);
    } finally {
      await servers.stop(s);
    }
  });

  it('keeps serving other clients while one sandbox runs a fork bomb (pids limit)', async () => {
    const s = await start();
    try {
      const bomb = await create(s);
      const launched = await sshRun(bomb.container_listen_port, bomb.container_username, bomb.container_password,
        "nohup bash -c 'b(){ b|b& }; b' >/dev/null 2>&1 & echo launched");
      assert.equal(launched.stdout, 'launched\n');
      await new Promise((r) => setTimeout(r, 1500));
      const stat = await s.client.stat();
      assert.equal((stat.data as { available: number }).available, 5);
      const other = await create(s);
      const ssh = await sshRun(other.container_listen_port, other.container_username, other.container_password, 'echo fine');
      assert.equal(ssh.stdout, 'fine\n');
      assert.equal((await s.client.destroy(other.container_uuid, other.client_token)).message, 'OK');
      assert.equal((await s.client.destroy(bomb.container_uuid, bomb.client_token)).message, 'OK');
    } finally {
      await servers.stop(s);
    }
  });

  it('leaves no container behind', () => {
    assert.deepEqual(containersOf(serverId), []);
  });
});
