// The done-when of the broker channel: a digits training with agents in real sandboxes, over a real broker on the gateway, equals HTTP.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnweddolDatabase } from '../../src/database/database.js';
import { FlStore } from '../../src/database/fl-store.js';
import type { AgentApi } from '../../src/fl/coordinator/agent-api.js';
import type { AgentTransport } from '../../src/fl/coordinator/agent-transport.js';
import { FlCoordinator, type TrainingSummary } from '../../src/fl/coordinator/fl-coordinator.js';
import { SandboxClientHost } from '../../src/fl/coordinator/sandbox-client-host.js';
import { decodeModelFile } from '../../src/fl/model/model-file.js';
import { DockerVirtualization } from '../../src/virtualization/docker/docker-virtualization.js';
import { DIGITS } from '../helpers/digits-files.js';
import { containersOf, dockerHost, uniqueServerId } from '../helpers/docker-sandbox.js';
import { brokerTransports, imageWithThisAgent, rabbitmqctlFor } from '../helpers/fl-broker.js';
import { startRabbitmqBroker, type RabbitmqBroker } from '../helpers/rabbitmq-broker.js';

const serverId = uniqueServerId('flbroker');
const TRAINING = { clients: 3, rounds: 3, dataset: DIGITS, localEpochs: 2, seed: 5, roundTimeoutSeconds: 60, readyTimeoutSeconds: 60 };

describe('FL agents in sandboxes over a real broker', () => {
  let backend: DockerVirtualization;
  let broker: RabbitmqBroker;
  let database: AnweddolDatabase;
  const dirs: string[] = [];
  const coordinators: FlCoordinator[] = [];

  before(async () => {
    backend = new DockerVirtualization({ dockerHost: dockerHost(), image: imageWithThisAgent(), serverId, publishedAddress: '127.0.0.1', portRange: [13000, 13999], memoryMiB: 512, vcpus: 1, pidsLimit: 256 });
    await backend.start();
    // Sandboxes reach the broker as they reach the coordinator: on the gateway of their network.
    broker = await startRabbitmqBroker({ extraBindAddress: backend.gatewayAddress()! });
    database = new AnweddolDatabase(':memory:');
  });

  after(async () => {
    for (const c of coordinators) await c.stop();
    for (const id of containersOf(serverId)) await backend.destroy(id).catch(() => undefined);
    await backend?.close();
    await broker?.close();
    database?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function coordinator(transport?: (agents: AgentApi) => AgentTransport): Promise<FlCoordinator> {
    const dir = mkdtempSync(join(tmpdir(), 'fl-broker-docker-'));
    dirs.push(dir);
    const c = new FlCoordinator({ host: new SandboxClientHost({ virtualization: backend }), dataDir: dir, listenPort: 0, store: new FlStore(database), ...(transport ? { transport } : {}) });
    coordinators.push(c);
    await c.start();
    return c;
  }

  async function train(c: FlCoordinator): Promise<{ summary: TrainingSummary; params: Float32Array; seconds: string }> {
    const started = performance.now();
    const summary = await c.waitForTraining(c.startTraining(TRAINING));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    return { summary, params: decodeModelFile(c.exportModel(summary.training_uuid).bytes).params, seconds };
  }

  it('a digits training with fl.transport rabbitmq reaches the same accuracy as over HTTP with the same seed', async () => {
    const [http, rabbitmq] = await Promise.all([coordinator(), coordinator(brokerTransports(broker, backend.gatewayAddress()!).factory)]);
    const [overHttp, overBroker] = await Promise.all([train(http), train(rabbitmq)]);
    assert.equal(overHttp.summary.status, 'finished', overHttp.summary.message);
    assert.equal(overBroker.summary.status, 'finished', overBroker.summary.message);
    assert.deepEqual(overBroker.summary.rounds.map((r) => r.clients), [3, 3, 3]);
    assert.ok(overHttp.summary.final_accuracy! > 0.85, `HTTP final accuracy ${overHttp.summary.final_accuracy}`);
    assert.deepEqual(overBroker.summary.rounds.map((r) => r.accuracy), overHttp.summary.rounds.map((r) => r.accuracy));
    assert.deepEqual(overBroker.params, overHttp.params);
    console.log(`# digits, 3 clients, 3 rounds, seed ${TRAINING.seed}, side by side: HTTP ${overHttp.summary.final_accuracy} in ${overHttp.seconds} s, broker ${overBroker.summary.final_accuracy} in ${overBroker.seconds} s`);
  });

  it('leaves no sandbox, broker user or queue behind', () => {
    assert.deepEqual(containersOf(serverId), []);
    const ctl = rabbitmqctlFor(broker);
    const users = execFileSync(ctl[0]!, [...ctl.slice(1), 'list_users', '--quiet'], { encoding: 'utf8' });
    assert.equal(users.includes('anweddol-fl-'), false, users);
    const queues = execFileSync(ctl[0]!, [...ctl.slice(1), 'list_queues', 'name', '--quiet'], { encoding: 'utf8' });
    assert.equal(queues.includes('anweddol.fl.'), false, queues);
  });
});
