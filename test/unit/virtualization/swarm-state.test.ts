import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endReason, latestTasks, leftoverReason, nodeFromApi, placementVerdict, type SwarmNode, type SwarmTask } from '../../../src/virtualization/swarm/swarm-state.js';
import { runningSandboxes } from '../../../src/virtualization/swarm/swarm-watch.js';

const node = (id: string, overrides: Partial<SwarmNode> = {}): SwarmNode => ({ id, hostname: id, address: `10.0.0.${id.length}`, usable: true, lost: false, ...overrides });
const task = (state: string): SwarmTask => ({ serviceId: 's', nodeId: 'a', state, containerId: 'c', error: undefined });

describe('swarm nodes', () => {
  it('takes a ready, active node as usable and a down or drained one as lost', () => {
    assert.deepEqual(nodeFromApi({ ID: 'n1', Description: { Hostname: 'h' }, Status: { State: 'ready', Addr: '10.240.0.2' }, Spec: { Availability: 'active' } }), {
      id: 'n1',
      hostname: 'h',
      address: '10.240.0.2',
      usable: true,
      lost: false,
    });
    assert.equal(nodeFromApi({ ID: 'n', Status: { State: 'down' } }).lost, true);
    assert.equal(nodeFromApi({ ID: 'n', Status: { State: 'ready' }, Spec: { Availability: 'drain' } }).lost, true);
    assert.equal(nodeFromApi({ ID: 'n', Status: { State: 'ready' }, Spec: { Availability: 'pause' } }).usable, false);
  });

  it('names a manager that reports 0.0.0.0 by its raft address', () => {
    assert.equal(nodeFromApi({ ID: 'm', Status: { State: 'ready', Addr: '0.0.0.0' }, ManagerStatus: { Addr: '10.240.0.1:2377' } }).address, '10.240.0.1');
  });
});

describe('swarm tasks', () => {
  it('keeps the most recent task of each service', () => {
    const tasks = latestTasks([
      { ServiceID: 's', CreatedAt: '2026-01-01T00:00:01Z', Status: { State: 'failed' } },
      { ServiceID: 's', CreatedAt: '2026-01-01T00:00:02Z', NodeID: 'n', Status: { State: 'running', ContainerStatus: { ContainerID: 'c' } } },
    ]);
    assert.deepEqual(tasks.get('s'), { serviceId: 's', nodeId: 'n', state: 'running', containerId: 'c', error: undefined });
  });

  it('says node_lost for a sandbox on a lost node even while its task still reads running', () => {
    assert.equal(endReason(task('running'), node('a', { lost: true, usable: false })), 'node_lost');
  });

  it('says nothing for a running task on a live node, died for a failed one, stopped for a shut down one, removed for none', () => {
    assert.equal(endReason(task('running'), node('a')), undefined);
    assert.equal(endReason(task('failed'), node('a')), 'died');
    assert.equal(endReason(task('shutdown'), node('a')), 'stopped');
    assert.equal(endReason(undefined, node('a')), 'removed');
  });

  it('says removed for a task whose service is gone even while it is still running or stopping', () => {
    assert.equal(endReason({ ...task('running'), desiredState: 'remove' }, node('a')), 'removed');
    assert.equal(endReason({ ...task('shutdown'), desiredState: 'remove' }, node('a')), 'removed');
  });
});

describe('swarm placement', () => {
  const nodes = [node('a'), node('bb')];

  it('offers every usable node and no per-node count without max_per_node', () => {
    const v = placementVerdict({ nodes, perNode: new Map([['a', 9]]), pending: 0, maxPerNode: null, unserved: new Set() });
    assert.deepEqual(v.eligible.map((n) => n.id), ['a', 'bb']);
    assert.equal(v.free, undefined);
  });

  it('excludes a full node and counts what the others leave', () => {
    const v = placementVerdict({ nodes, perNode: new Map([['a', 2], ['bb', 1]]), pending: 0, maxPerNode: 2, unserved: new Set() });
    assert.deepEqual(v.excluded.map((n) => n.id), ['a']);
    assert.equal(v.free, 1);
  });

  it('counts a creation not yet placed against every node, so the limit holds wherever it lands', () => {
    const v = placementVerdict({ nodes, perNode: new Map([['a', 1]]), pending: 1, maxPerNode: 2, unserved: new Set() });
    assert.deepEqual(v.excluded.map((n) => n.id), ['a']);
    assert.equal(v.free, 2);
  });

  it('never offers a node the backend cannot serve, nor counts its room', () => {
    const v = placementVerdict({ nodes, perNode: new Map(), pending: 0, maxPerNode: 2, unserved: new Set(['bb']) });
    assert.deepEqual(v.eligible.map((n) => n.id), ['a']);
    assert.equal(v.free, 2);
  });

  it('leaves no room when no node is usable, limit or not', () => {
    const drained = [node('a', { usable: false, lost: true })];
    assert.equal(placementVerdict({ nodes: drained, perNode: new Map(), pending: 0, maxPerNode: null, unserved: new Set() }).free, 0);
    assert.equal(placementVerdict({ nodes: drained, perNode: new Map(), pending: 0, maxPerNode: 3, unserved: new Set() }).free, 0);
  });
});

describe('running sandboxes', () => {
  const digest = 'a'.repeat(64);
  const service = (id: string) =>
    ({ ID: id, Spec: { Labels: { 'anweddol.uuid': `u-${id}`, 'anweddol.port': '30005' }, TaskTemplate: { ContainerSpec: { Image: `r:5000/s@sha256:${digest}` } } } }) as never;

  it('lists a service whose task runs on a live node, at that node, and leaves out one on a lost node or not running', () => {
    const snapshot = {
      nodes: new Map([['a', node('a')], ['bb', node('bb', { lost: true, usable: false })]]),
      tasks: new Map<string, SwarmTask>([
        ['s1', { ...task('running'), serviceId: 's1', nodeId: 'a' }],
        ['s2', { ...task('running'), serviceId: 's2', nodeId: 'bb' }],
        ['s3', { ...task('failed'), serviceId: 's3', nodeId: 'a' }],
      ]),
    };
    const listed = runningSandboxes([service('s1'), service('s2'), service('s3')], snapshot);
    assert.deepEqual(listed.map(({ id, uuid, port, host, imageSha256 }) => ({ id, uuid, port, host, imageSha256 })), [
      { id: 's1', uuid: 'u-s1', port: 30005, host: node('a').address, imageSha256: digest },
    ]);
  });

  it('gives a sandbox published through the routing mesh no host: its port answers here, where the daemon reaches it', () => {
    const snapshot = { nodes: new Map([['a', node('a')]]), tasks: new Map<string, SwarmTask>([['s1', { ...task('running'), serviceId: 's1', nodeId: 'a' }]]) };
    const [listed] = runningSandboxes([service('s1')], snapshot, 'ingress');
    assert.equal(listed?.host, undefined);
    assert.deepEqual(listed?.sshEndpoint, { host: '127.0.0.1', port: 30005 });
  });
});

describe('services found at (re)connection', () => {
  it('keeps a running one', () => {
    assert.equal(leftoverReason(task('running'), node('a')), undefined);
  });

  it('removes one whose task never ran (an earlier run left it being created: a pool fill of a killed daemon)', () => {
    for (const state of ['new', 'pending', 'assigned', 'preparing', 'starting']) assert.match(leftoverReason(task(state), node('a')) ?? '', new RegExp(`^${state}: `));
  });

  it('removes an ended one with its end reason', () => {
    assert.equal(leftoverReason(task('failed'), node('a')), 'died');
    assert.equal(leftoverReason(undefined, undefined), 'removed');
  });
});
