// PortPool: which ports it hands out, in what order, and when it runs out.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { bindProbe, PortPool } from '../../../src/virtualization/docker/port-pool.js';

const allFree = async () => true;

describe('PortPool', () => {
  it('hands out distinct ports from the range until it is exhausted', async () => {
    const pool = new PortPool(20000, 20002, allFree);
    const ports = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    assert.deepEqual(ports, [20000, 20001, 20002]);
    assert.equal(await pool.acquire(), undefined);
    assert.equal(pool.inUse, 3);
  });

  it('reuses a released port only after the others (round robin)', async () => {
    const pool = new PortPool(20000, 20002, allFree);
    const first = await pool.acquire();
    pool.release(first!);
    assert.equal(await pool.acquire(), 20001);
    assert.equal(await pool.acquire(), 20002);
    assert.equal(await pool.acquire(), 20000);
  });

  it('skips ports the probe reports as in use', async () => {
    const pool = new PortPool(20000, 20003, async (port) => port % 2 === 1);
    assert.equal(await pool.acquire(), 20001);
    assert.equal(await pool.acquire(), 20003);
    assert.equal(await pool.acquire(), undefined);
    assert.equal(pool.inUse, 2);
  });

  it('never hands the same port to two concurrent callers', async () => {
    const pool = new PortPool(20000, 20009, () => new Promise((r) => setTimeout(() => r(true), 5)));
    const ports = await Promise.all(Array.from({ length: 10 }, () => pool.acquire()));
    assert.equal(new Set(ports).size, 10);
    assert.equal(await pool.acquire(), undefined);
  });

  it('skips held ports (sandboxes found at start-up) and ignores ports outside the range', async () => {
    const pool = new PortPool(20000, 20001, allFree);
    pool.hold(20000);
    pool.hold(30000);
    assert.equal(await pool.acquire(), 20001);
    assert.equal(await pool.acquire(), undefined);
  });

  it('rejects an empty or invalid range', () => {
    assert.throws(() => new PortPool(20001, 20000, allFree), RangeError);
    assert.throws(() => new PortPool(0, 10, allFree), RangeError);
    assert.throws(() => new PortPool(1, 70000, allFree), RangeError);
  });

  it('probes a real port as busy while something listens on it', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const probe = bindProbe('127.0.0.1');
    try {
      assert.equal(await probe(port), false);
    } finally {
      await new Promise((r) => server.close(r));
    }
    assert.equal(await probe(port), true);
  });
});
