// DockerVirtualization without a usable dockerd: it starts unavailable, refuses CREATE cleanly, stops retrying when closed, refuses an engine that cannot cap disks.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendUnavailableError } from '../../../src/shared/errors.js';
import { DockerVirtualization } from '../../../src/virtualization/docker/docker-virtualization.js';
import { DiskLimitUnsupportedError } from '../../../src/virtualization/virtualization-errors.js';
import { FakeDockerEngine } from '../../helpers/fake-docker-engine.js';

const dir = mkdtempSync(join(tmpdir(), 'anweddol-nodocker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function unreachable(): DockerVirtualization {
  return new DockerVirtualization({ dockerHost: `unix://${join(dir, 'no-docker.sock')}`, serverId: 'unit', publishedAddress: '127.0.0.1', maxReconnectDelayMs: 100 });
}

describe('DockerVirtualization without dockerd', () => {
  it('starts without throwing and reports itself unavailable', async () => {
    const backend = unreachable();
    await backend.start();
    try {
      assert.equal(backend.isAvailable(), false);
      assert.equal(backend.gatewayAddress(), undefined);
    } finally {
      await backend.close();
    }
  });

  it('refuses CREATE with Unavailable and holds no port', async () => {
    const backend = unreachable();
    await backend.start();
    try {
      await assert.rejects(
        backend.create({ uuid: randomUUID(), username: 'user_12345', password: 'abc' }),
        (error: unknown) => error instanceof BackendUnavailableError && error.reason === 'virtualization backend unreachable',
      );
      assert.equal(backend.portsInUse(), 0);
    } finally {
      await backend.close();
    }
  });

  it('answers DESTROY with Unavailable while dockerd is unreachable', async () => {
    const backend = unreachable();
    await backend.start();
    try {
      await assert.rejects(
        backend.destroy('0123456789ab'),
        (error: unknown) => error instanceof BackendUnavailableError && error.reason === 'virtualization backend unreachable',
      );
    } finally {
      await backend.close();
    }
  });

  it('rejects invalid options with a clear error', () => {
    assert.throws(() => new DockerVirtualization({ serverId: 'bad id!' }), /serverId/);
    assert.throws(() => new DockerVirtualization({ serverId: 'x', dockerHost: 'ssh://host' }), /unsupported docker host/);
    assert.throws(() => new DockerVirtualization({ serverId: 'x', portRange: [2000, 1000] }), /port range/);
    assert.throws(() => new DockerVirtualization({ serverId: 'x', pidsLimit: 0 }), /pidsLimit/);
    assert.throws(() => new DockerVirtualization({ serverId: 'x', memoryMiB: 1 }), /memoryMiB/);
  });

  it('stops connecting once closed', { timeout: 10_000 }, async () => {
    const engine = new FakeDockerEngine({ mode: 'hang-up' });
    const socket = join(dir, 'hang-up.sock');
    await engine.listen(socket);
    const backend = new DockerVirtualization({ dockerHost: `unix://${socket}`, serverId: 'unit', publishedAddress: '127.0.0.1', maxReconnectDelayMs: 50 });
    try {
      await backend.start();
      // It does retry while open: the test below would pass vacuously otherwise.
      for (let i = 0; i < 100 && engine.connections < 4; i++) await sleep(20);
      assert.ok(engine.connections >= 4, `only ${engine.connections} connection attempts while open`);
      await backend.close();
      const atClose = engine.connections;
      await sleep(500);
      assert.equal(engine.connections, atClose, 'connection attempts after close');
      assert.equal(backend.isAvailable(), false);
    } finally {
      await backend.close();
      await engine.close();
    }
  });
});

describe('DockerVirtualization with a disk limit', () => {
  let engines = 0;
  async function engineReporting(driver: string, backing: string): Promise<{ engine: FakeDockerEngine; host: string }> {
    const engine = new FakeDockerEngine({ mode: 'answer', info: { Driver: driver, DriverStatus: [['Backing Filesystem', backing]] } });
    const socket = join(dir, `${driver}-${backing}-${++engines}.sock`);
    await engine.listen(socket);
    return { engine, host: `unix://${socket}` };
  }

  it('refuses to start on a storage driver that cannot enforce it, naming the driver', async () => {
    const { engine, host } = await engineReporting('overlay2', 'extfs');
    const backend = new DockerVirtualization({ dockerHost: host, serverId: 'unit', publishedAddress: '127.0.0.1', diskLimitMiB: 3072 });
    try {
      await assert.rejects(backend.start(), (error: unknown) => error instanceof DiskLimitUnsupportedError && /overlay2 on extfs/.test(error.message));
      assert.equal(backend.isAvailable(), false);
    } finally {
      await backend.close();
      await engine.close();
    }
  });

  it('does not look at the storage driver without a disk limit', async () => {
    const { engine, host } = await engineReporting('overlay2', 'extfs');
    const backend = new DockerVirtualization({ dockerHost: host, serverId: 'unit', publishedAddress: '127.0.0.1', diskLimitMiB: null, maxReconnectDelayMs: 50 });
    try {
      // The fake engine cannot list containers: the start goes on as an outage (unavailable, retried), not a refusal.
      await backend.start();
      assert.equal(backend.isAvailable(), false);
      assert.equal(backend.networkInfo()?.bridge, `br-${'f'.repeat(12)}`);
    } finally {
      await backend.close();
      await engine.close();
    }
  });
});
