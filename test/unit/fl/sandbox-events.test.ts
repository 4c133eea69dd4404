// FL sandboxes go through the server's created_container / destroyed_container, marked with the training.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SandboxClientHost } from '../../../src/fl/coordinator/sandbox-client-host.js';
import type { AgentLaunch } from '../../../src/fl/coordinator/client-host.js';
import { AnweddolServer } from '../../../src/server/anweddol-server.js';
import type { CreatedSandboxPayload, DestroyedSandboxPayload } from '../../../src/server/server-events.js';
import type { Sandbox, SandboxSpec } from '../../../src/virtualization/virtualization-interface.js';
import { FakeVirtualization } from '../../helpers/fake-virtualization.js';
import { testServerKeyPair } from '../../helpers/test-keys.js';

/** SandboxClientHost needs the sandbox's private address. */
class AddressedFake extends FakeVirtualization {
  override async create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    const sandbox = await super.create(spec, signal);
    sandbox.ipAddress = '10.0.0.2';
    return sandbox;
  }
}

const LAUNCH: AgentLaunch = {
  trainingUuid: 'training-1',
  clientId: 'client-2',
  token: 'not-used',
  shard: { features: new Float32Array([0.5, 1]), labels: new Int32Array([0, 1]), count: 2, dimensions: 1 },
  hyperparameters: { epochs: 1, learningRate: 0.1, batchSize: 1, mu: 0, seed: 0 },
  coordinatorUrl: 'http://127.0.0.1:1',
};
const MARK = { training_uuid: 'training-1', client_id: 'client-2', expires_at: null };

interface Harness {
  server: AnweddolServer;
  fake: AddressedFake;
  host: SandboxClientHost;
  created: Array<Pick<CreatedSandboxPayload, 'client' | 'container_id' | 'fl'>>;
  destroyed: Array<Pick<DestroyedSandboxPayload, 'container_id' | 'reason' | 'fl'>>;
}

const servers: AnweddolServer[] = [];
let keyPair: Awaited<ReturnType<typeof testServerKeyPair>>;
before(async () => {
  keyPair = await testServerKeyPair();
});
after(async () => {
  for (const server of servers) await server.stop();
});

/** The host wired to a server as the daemon's FL extension wires it. */
async function harness(): Promise<Harness> {
  const fake = new AddressedFake();
  const server = new AnweddolServer({ rsaKeyPair: keyPair, enableTcp: false, virtualization: fake, maxSandboxes: 1 });
  await server.start();
  servers.push(server);
  const created: Harness['created'] = [];
  const destroyed: Harness['destroyed'] = [];
  server.on('created_container', ({ client, container_id, fl }) => void created.push({ client, container_id, fl }));
  server.on('destroyed_container', ({ container_id, reason, fl }) => void destroyed.push({ container_id, reason, fl }));
  const host = new SandboxClientHost({
    virtualization: fake,
    reserveSlot: (uuid) => server.reserveSandboxSlot(uuid),
    announcer: {
      created: (sandbox, fl) => server.announceSandboxCreated(sandbox, fl),
      destroyed: (sandbox, fl, reason) => server.announceSandboxDestroyed(sandbox, fl, reason),
    },
  });
  return { server, fake, host, created, destroyed };
}

describe('FL sandbox events', () => {
  it('announces an FL sandbox as created with its training and no network client, and destroyed with reason training_ended', async () => {
    const { fake, host, created, destroyed } = await harness();
    const launched = await host.launch(LAUNCH, new AbortController().signal);
    const [id] = fake.sandboxes.keys();
    assert.deepEqual(created, [{ client: null, container_id: id, fl: MARK }]);
    await launched.destroy();
    await launched.destroy();
    assert.deepEqual(destroyed, [{ container_id: id, reason: 'training_ended', fl: MARK }]);
  });

  it('announces the backend reason once when the sandbox dies under the training', async () => {
    const { fake, host, destroyed } = await harness();
    const launched = await host.launch(LAUNCH, new AbortController().signal);
    const [id] = fake.sandboxes.keys();
    fake.end(id!, 'died');
    await new Promise((r) => setImmediate(r));
    await launched.destroy();
    assert.deepEqual(destroyed, [{ container_id: id, reason: 'died', fl: MARK }]);
  });

  it('destroys an FL sandbox at its training\'s deadline with reason expired, frees its slot and tells the training', async () => {
    const { server, fake, host, created, destroyed } = await harness();
    const expiresAt = Date.now() + 100;
    const launched = await host.launch({ ...LAUNCH, expiresAt }, new AbortController().signal);
    const ended = new Promise<string>((resolve) => launched.onEnded(resolve));
    const [id] = fake.sandboxes.keys();
    const mark = { ...MARK, expires_at: Math.floor(expiresAt / 1000) };
    assert.deepEqual(created, [{ client: null, container_id: id, fl: mark }]);
    assert.equal(server.getRuntimeStatistics().availableContainers, 0);
    // Deadline timers are unref'd, as every lifetime timer: hold the loop as the daemon's listeners do.
    const hold = setTimeout(() => undefined, 10_000);
    assert.equal(await ended.finally(() => clearTimeout(hold)), 'expired');
    assert.ok(Date.now() >= expiresAt);
    // The training's own destroy waits for the expiry's, and announces nothing more.
    await launched.destroy();
    assert.equal(fake.sandboxes.size, 0);
    assert.deepEqual(destroyed, [{ container_id: id, reason: 'expired', fl: mark }]);
    assert.equal(server.getRuntimeStatistics().availableContainers, 1);
  });

  it('forgets the deadline of an FL sandbox its training destroyed', async () => {
    const { fake, host, destroyed } = await harness();
    const launched = await host.launch({ ...LAUNCH, expiresAt: Date.now() + 100 }, new AbortController().signal);
    const ends: string[] = [];
    launched.onEnded((reason) => ends.push(reason));
    await launched.destroy();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(fake.sandboxes.size, 0);
    assert.deepEqual(destroyed.map((d) => d.reason), ['training_ended']);
    assert.deepEqual(ends, [], 'no expiry after the training ended');
  });

  it('honours a created_container veto: the launch fails, the sandbox is destroyed with reason vetoed, the slot is free', async () => {
    const { server, fake, host, destroyed } = await harness();
    server.on('created_container', (ctx) => (ctx.fl === null ? undefined : ctx.refuse('no FL here')));
    await assert.rejects(host.launch(LAUNCH, new AbortController().signal), /refused by a created_container hook \(no FL here\)/);
    assert.equal(fake.sandboxes.size, 0);
    assert.deepEqual(destroyed.map((d) => [d.reason, d.fl]), [['vetoed', MARK]]);
    assert.equal(server.getRuntimeStatistics().availableContainers, 1);
  });
});
