import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySessionStore } from '../../../src/server/memory-session-store.js';
import { SandboxCapacity } from '../../../src/server/sandbox-capacity.js';

const session = (containerId: string) => ({ createdAt: 0, containerUuidSha256: containerId, clientTokenSha256: 'x', containerId, port: 1, state: 'running' as const });

describe('SandboxCapacity', () => {
  it('counts live sessions and reservations in flight against the maximum', () => {
    const sessions = new MemorySessionStore();
    const capacity = new SandboxCapacity(2, sessions);
    sessions.insert(session('a'));
    const slot = capacity.tryReserve('u1');
    assert.ok(slot);
    assert.equal(capacity.available(), 0);
    assert.equal(capacity.tryReserve('u2'), undefined);
    slot.release();
    assert.equal(capacity.available(), 1);
  });

  it('ignores a second release of the same slot', () => {
    const capacity = new SandboxCapacity(1, new MemorySessionStore());
    const slot = capacity.tryReserve('u1')!;
    slot.release();
    slot.release();
    assert.equal(capacity.available(), 1);
  });

  it('never runs out without a maximum', () => {
    const capacity = new SandboxCapacity(null, new MemorySessionStore());
    for (let i = 0; i < 100; i++) assert.ok(capacity.tryReserve(`u${i}`));
    assert.equal(capacity.available(), 'nolimit');
  });

  it('marks the sandbox a slot is held for as claimed until the slot is released', () => {
    const capacity = new SandboxCapacity(2, new MemorySessionStore());
    const slot = capacity.tryReserve('u1')!;
    assert.equal(capacity.isClaimed('u1'), true);
    assert.equal(capacity.isClaimed('u2'), false);
    slot.release();
    assert.equal(capacity.isClaimed('u1'), false);
  });

  it('refuses everything with a maximum of 0', () => {
    assert.equal(new SandboxCapacity(0, new MemorySessionStore()).tryReserve('u1'), undefined);
  });
});
