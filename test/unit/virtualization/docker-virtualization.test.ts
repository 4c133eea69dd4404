// DockerVirtualization without a reachable dockerd: it starts, reports unavailable, and refuses CREATE cleanly.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BackendUnavailableError } from '../../../src/shared/errors.js';
import { DockerVirtualization } from '../../../src/virtualization/docker/docker-virtualization.js';

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

  it('stops retrying once closed', async () => {
    const backend = unreachable();
    await backend.start();
    await backend.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(backend.isAvailable(), false);
  });
});
