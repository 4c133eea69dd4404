// SshWaitStrategy: ready means an SSH identification line came back, not merely an accepted connection.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadinessTimeoutError, SshWaitStrategy } from '../../../src/virtualization/docker/ssh-wait-strategy.js';
import { scriptedPeer } from '../../helpers/scripted-peer.js';

describe('SshWaitStrategy', () => {
  it('resolves once the peer sends an SSH banner', async () => {
    const peer = await scriptedPeer((s) => s.write('SSH-2.0-OpenSSH_9.2p1 Debian\r\n'));
    try {
      await new SshWaitStrategy({ timeoutMs: 2000 }).waitUntilReady({ host: '127.0.0.1', port: peer.port });
    } finally {
      await peer.close();
    }
  });

  it('accepts other lines before the identification string', async () => {
    const peer = await scriptedPeer((s) => s.write('hello there\r\nSSH-2.0-x\r\n'));
    try {
      await new SshWaitStrategy({ timeoutMs: 2000 }).waitUntilReady({ host: '127.0.0.1', port: peer.port });
    } finally {
      await peer.close();
    }
  });

  it('keeps waiting while connections are accepted then closed (docker-proxy before sshd is up)', async () => {
    let connections = 0;
    const peer = await scriptedPeer((s) => {
      connections++;
      if (connections < 4) s.destroy();
      else s.write('SSH-2.0-late\r\n');
    });
    try {
      await new SshWaitStrategy({ timeoutMs: 5000, intervalMs: 10 }).waitUntilReady({ host: '127.0.0.1', port: peer.port });
      assert.equal(connections, 4);
    } finally {
      await peer.close();
    }
  });

  it('times out when a connection is accepted but no banner ever comes', async () => {
    const peer = await scriptedPeer(() => {});
    try {
      const started = Date.now();
      await assert.rejects(
        new SshWaitStrategy({ timeoutMs: 300, attemptTimeoutMs: 100 }).waitUntilReady({ host: '127.0.0.1', port: peer.port }),
        ReadinessTimeoutError,
      );
      assert.ok(Date.now() - started < 1500);
    } finally {
      await peer.close();
    }
  });

  it('times out when nothing listens', async () => {
    const peer = await scriptedPeer(() => {});
    const port = peer.port;
    await peer.close();
    await assert.rejects(new SshWaitStrategy({ timeoutMs: 200 }).waitUntilReady({ host: '127.0.0.1', port }), ReadinessTimeoutError);
  });

  it('stops waiting when aborted', async () => {
    const peer = await scriptedPeer(() => {});
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('client went away')), 50);
      await assert.rejects(
        new SshWaitStrategy({ timeoutMs: 10_000 }).waitUntilReady({ host: '127.0.0.1', port: peer.port }, controller.signal),
        /client went away/,
      );
    } finally {
      await peer.close();
    }
  });
});
