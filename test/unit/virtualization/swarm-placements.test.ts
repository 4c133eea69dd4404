import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SwarmPlacements } from '../../../src/virtualization/swarm/swarm-placements.js';

const node = { id: 'a', hostname: 'a', address: '10.0.0.1', usable: true, lost: false };

describe('swarm placements', () => {
  it('counts a creation as pending until placed, then on its node', async () => {
    const placements = new SwarmPlacements([30000, 30009], 1);
    const ports = await placements.begin();
    assert.equal(placements.verdict([node], new Set()).free, 0);
    placements.place('s1', { uuid: 'u', port: ports!.port, nodeId: 'a', containerId: 'c' });
    assert.deepEqual(placements.verdict([node], new Set()).excluded.map((n) => n.id), ['a']);
  });

  it('hands out extra ports with the SSH port and takes them all back when forgotten', async () => {
    const placements = new SwarmPlacements([30000, 30002], null);
    const ports = await placements.begin(2);
    assert.deepEqual(ports, { port: 30000, extraPorts: [30001, 30002] });
    assert.equal(await placements.begin(), undefined);
    placements.place('s1', { uuid: 'u', port: 30000, extraPorts: [30001, 30002], nodeId: 'a', containerId: 'c' });
    placements.forget('s1');
    assert.deepEqual(await placements.begin(2), { port: 30000, extraPorts: [30001, 30002] });
  });

  it('gives back the ports of a creation that failed before placement, and its pending count', async () => {
    const placements = new SwarmPlacements([30000, 30001], 1);
    const ports = (await placements.begin(1))!;
    placements.abandon([ports.port, ...ports.extraPorts], false);
    assert.equal(placements.verdict([node], new Set()).free, 1);
    assert.notEqual(await placements.begin(1), undefined);
  });

  it('waits for a pending creation to be placed before judging a node full, then offers the node with room', async () => {
    const placements = new SwarmPlacements([30000, 30009], 2);
    const other = { ...node, id: 'b', hostname: 'b' };
    const [first, second] = [(await placements.begin())!, (await placements.begin())!];
    const verdict = () => placements.verdict([node, other], new Set());
    assert.deepEqual(verdict().eligible, [], 'two pending creations may both land on either node');
    const room = placements.roomFor(verdict, AbortSignal.timeout(5000));
    placements.place('s1', { uuid: 'u1', port: first.port, nodeId: 'a', containerId: 'c1' });
    placements.place('s2', { uuid: 'u2', port: second.port, nodeId: 'b', containerId: 'c2' });
    assert.deepEqual((await room).eligible.map((n) => n.id), ['a', 'b']);
  });

  it('answers a full verdict at once when no creation is pending', async () => {
    const placements = new SwarmPlacements([30000, 30009], 1);
    placements.place('s1', { uuid: 'u1', port: (await placements.begin())!.port, nodeId: 'a', containerId: 'c1' });
    const verdict = await placements.roomFor(() => placements.verdict([node], new Set()), new AbortController().signal);
    assert.deepEqual(verdict.eligible, []);
  });

  it('stops waiting for pending creations when its signal aborts', async () => {
    const placements = new SwarmPlacements([30000, 30009], 1);
    await placements.begin();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const verdict = await placements.roomFor(() => placements.verdict([node], new Set()), abort.signal);
    assert.deepEqual(verdict.eligible, []);
  });
});
