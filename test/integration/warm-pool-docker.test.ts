// The warm pool on the real dockerd: claimed sandboxes take SSH logins, are never shared, die and restarts leave nothing unclaimed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import type { AnweddolServerOptions } from '../../src/server/anweddol-server.js';
import { POOL_LABEL } from '../../src/server/warm-pool/warm-pool.js';
import { docker, dockerHost, REPO, SANDBOX_IMAGE, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';
import { SandboxServerFiles } from '../helpers/sandbox-server-files.js';
import type { CreatedData, SandboxServer } from '../helpers/sandbox-server.js';
import { until } from '../helpers/until.js';

const servers = new SandboxServerFiles('pool', { noneLeft: false });

async function start(name: string, maxSandboxes: number, serverOptions: Partial<AnweddolServerOptions>, serverId = uniqueServerId(name)): Promise<SandboxServer & { serverId: string }> {
  const s = await servers.start({ databaseFile: join(servers.dir, `${name}.db`), maxSandboxes, backend: { dockerHost: dockerHost(), image: SANDBOX_IMAGE, serverId }, serverOptions });
  return Object.assign(s, { serverId });
}

// Generous: on the shared dockerd a fill has taken a minute under load.
const poolReady = (s: SandboxServer, n: number) => until(() => s.server.getRuntimeStatistics().warmPool.ready === n, 180_000);
const poolContainers = (serverId: string) => docker(['ps', '-aq', '--no-trunc', '--filter', `label=anweddol.server=${serverId}`, '--filter', `label=${POOL_LABEL}=1`]).split('\n').filter(Boolean);

describe('the warm pool on the real dockerd', () => {
  it('hands out a pooled sandbox whose credentials log in over SSH, and a wrong token cannot destroy it', async () => {
    const s = await start('login', 3, { warmPoolSize: 2 });
    try {
      await poolReady(s, 2);
      const created = await s.client.create();
      assert.equal(created.message, 'OK');
      const data = created.data as unknown as CreatedData;
      const result = await sshRun(data.container_listen_port, data.container_username, data.container_password, 'id -un');
      assert.equal(result.stdout, `${data.container_username}\n`);
      const wrong = await s.client.destroy(data.container_uuid, 'f'.repeat(data.client_token.length));
      assert.equal(wrong.success, false);
      assert.equal((await sshRun(data.container_listen_port, data.container_username, data.container_password, 'true')).code, 0);
      assert.equal((await s.client.destroy(data.container_uuid, data.client_token)).message, 'OK');
    } finally {
      await servers.stop(s);
    }
  });

  it('counts ready pool sandboxes in STAT available: free slots plus ready ones', async () => {
    const s = await start('available', 4, { warmPoolSize: 2 });
    try {
      await poolReady(s, 2);
      assert.equal((await s.client.stat()).data.available, 4);
      assert.equal((await s.client.create()).message, 'OK');
      await poolReady(s, 2);
      assert.equal((await s.client.stat()).data.available, 3);
    } finally {
      await servers.stop(s);
    }
  });

  it('never hands one sandbox to two clients under 50 concurrent CREATEs', async () => {
    const s = await start('burst', 6, { warmPoolSize: 4, warmPoolRefillConcurrency: 2 });
    try {
      await poolReady(s, 4);
      const answers = await Promise.all(Array.from({ length: 50 }, () => s.client.create()));
      const granted = answers.filter((a) => a.message === 'OK').map((a) => a.data as unknown as CreatedData);
      assert.equal(granted.length, 6, `answers: ${answers.map((a) => a.message).join(', ')}`);
      assert.equal(new Set(granted.map((g) => g.container_listen_port)).size, 6);
      assert.equal(new Set(granted.map((g) => g.container_uuid)).size, 6);
      assert.equal(s.sessions.count(), 6);
      assert.equal(new Set(s.sessions.list().map((row) => row.containerId)).size, 6);
      for (const g of granted) assert.equal((await sshRun(g.container_listen_port, g.container_username, g.container_password, 'id -un')).stdout, `${g.container_username}\n`);
    } finally {
      await servers.stop(s);
    }
  });

  it('replaces a pool sandbox that is killed', async () => {
    const s = await start('killed', 3, { warmPoolSize: 2 });
    try {
      await poolReady(s, 2);
      const [victim] = poolContainers(s.serverId);
      docker(['kill', victim!]);
      await until(() => s.server.getRuntimeStatistics().warmPool.replaced === 1, 30_000);
      await poolReady(s, 2);
      const live = poolContainers(s.serverId);
      assert.equal(live.includes(victim!), false);
      assert.equal(live.length, 2);
    } finally {
      await servers.stop(s);
    }
  });

  it('destroys the unclaimed pool sandboxes of a killed daemon at restart, keeps the claimed one, and refills', async () => {
    const serverId = servers.removesContainersOf(uniqueServerId('restart'));
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test/helpers/warm-pool-child.ts'), join(servers.dir, 'restart.db'), serverId, dockerHost()], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const claimed = JSON.parse(line.toString()) as CreatedData;
    child.kill('SIGKILL');
    await once(child, 'exit');
    const before = poolContainers(serverId);
    assert.equal(before.length, 3); // the claimed sandbox was born in the pool too
    const s = await start('restart', 4, { warmPoolSize: 2 }, serverId);
    try {
      await poolReady(s, 2);
      const after = poolContainers(serverId);
      assert.equal(after.length, 3);
      assert.equal(after.filter((id) => before.includes(id)).length, 1);
      assert.equal(s.sessions.count(), 1);
      assert.equal((await sshRun(claimed.container_listen_port, claimed.container_username, claimed.container_password, 'true')).code, 0);
    } finally {
      await servers.stop(s);
    }
  });
});
