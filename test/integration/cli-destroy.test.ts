// `anweddol-server destroy` through the real CLI, against a real daemon with real sandboxes on the private dockerd.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import type { DestroyedLine } from '../../src/cli/commands/destroy.js';
import { AnweddolDatabase } from '../../src/database/database.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { serverIdFor } from '../../src/daemon/virtualization-factory.js';
import type { CreatedSandbox } from '../../src/server/sandbox-manager.js';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { containersOf, docker, dockerHost, removeLeftContainers } from '../helpers/docker-sandbox.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

const UNKNOWN_UUID = '6f1c0a8e-1b2c-4d3e-8f40-0123456789ab';

describe('anweddol-server destroy', () => {
  let install: TestInstall;
  let serverId: string;
  const cli = (...args: string[]) => runCli([...args, '--config', install.configPath], { timeoutMs: 120_000 });
  const destroyed = (run: Awaited<ReturnType<typeof cli>>) => (jsonOf(run).data.destroyed as DestroyedLine[]).map((d) => d.port).sort();

  async function create(): Promise<CreatedSandbox> {
    const client = new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 60_000 });
    const response = await client.create();
    assert.equal(response.message, 'OK', JSON.stringify(response));
    return response.data as unknown as CreatedSandbox;
  }

  /** Ports of this daemon's running sandboxes, as dockerd sees them. */
  function livePorts(): number[] {
    return containersOf(serverId)
      .map((id) => Number(docker(['inspect', '--format', '{{index .Config.Labels "anweddol.port"}}', id])))
      .sort();
  }

  before(async () => {
    install = await createTestInstall({
      docker: { host: dockerHost() },
      // One test client makes every sandbox here: per-client limits out of the way.
      container: { published_address: '127.0.0.1', max_allowed_running_container_domains: 4, container_memory: 256, max_lifetime: 600, max_per_client: 4, create_rate: '100/min' },
      port_forwarding: { port_range: [13500, 13599] },
    });
    serverId = serverIdFor(loadConfig(install.configPath, {}));
    const started = await cli('start');
    assert.equal(started.code, 0, started.stdout + started.stderr);
  });

  after(async () => {
    await cli('stop');
    install.remove();
    removeLeftContainers(serverId);
  });

  it('fails with exit 1 and a clear message for an unknown uuid', async () => {
    const run = await cli('destroy', UNKNOWN_UUID, '--json');
    assert.equal(run.code, 1);
    assert.deepEqual(jsonOf(run), { status: 'ERROR', message: 'no sandbox with this uuid', data: {} });
  });

  it('fails with exit 1 for something that is not a uuid, before asking the daemon', async () => {
    const run = await cli('destroy', 'not-a-uuid');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: not a container uuid: "not-a-uuid"/);
  });

  it('fails with exit 1 when given two selectors', async () => {
    const run = await cli('destroy', UNKNOWN_UUID, '--all');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /give exactly one of UUID, --client ID, --expired, --all/);
  });

  it('destroys one sandbox by the uuid its client got, and prints it', async () => {
    const a = await create();
    const b = await create();
    const run = await cli('destroy', a.container_uuid);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^destroyed session #\\d+  container [0-9a-f]{12}  port ${a.container_listen_port}  client [0-9a-f]+  \\(admin\\)\\n$`));
    assert.deepEqual(livePorts(), [b.container_listen_port]);
    assert.equal((await cli('destroy', '--all')).code, 0);
  });

  it('destroys with --expired exactly the sandboxes past their deadline', async () => {
    const overdue = await create();
    const current = await create();
    // A deadline the daemon has not acted on yet (as after a failed destroy): set in the session row behind its back.
    const database = new AnweddolDatabase(join(install.dir, 'db/anweddol.db'));
    database.db.prepare('UPDATE sessions SET expires_at = ? WHERE port = ?').run(Date.now() - 1000, overdue.container_listen_port);
    database.close();
    const run = await cli('destroy', '--expired', '--json');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(destroyed(run), [overdue.container_listen_port]);
    assert.equal((jsonOf(run).data.destroyed as DestroyedLine[])[0]?.reason, 'expired');
    assert.deepEqual(livePorts(), [current.container_listen_port]);
    assert.equal(jsonOf(await cli('destroy', '--expired', '--json')).message, '0 sandboxes destroyed');
    assert.equal((await cli('destroy', '--all')).code, 0);
  });

  it('destroys every sandbox of a client with --client, and fails for a client without any', async () => {
    const a = await create();
    const b = await create();
    // The daemon's keyed id of 127.0.0.1, as stat shows it.
    const ids = (jsonOf(await cli('stat', '--json')).data.sessions as Array<{ client_id: string }>).map((s) => s.client_id);
    assert.match(ids[0] ?? '', /^[0-9a-f]{12}$/);
    assert.equal(ids[1], ids[0]);
    const id = ids[0]!;
    const run = await cli('destroy', '--client', id, '--json');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(destroyed(run), [a.container_listen_port, b.container_listen_port].sort());
    const none = await cli('destroy', '--client', id, '--json');
    assert.equal(none.code, 1);
    assert.equal(jsonOf(none).message, `no sandbox of client ${id}`);
  });

  it('destroys every client sandbox with --all and frees every slot', async () => {
    const created = [await create(), await create(), await create()];
    const run = await cli('destroy', '--all', '--json');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(destroyed(run), created.map((c) => c.container_listen_port).sort());
    assert.deepEqual(livePorts(), []);
    assert.equal(jsonOf(await cli('stat', '--json')).data.available, 4);
    assert.deepEqual(jsonOf(await cli('destroy', '--all', '--json')).data.destroyed, []);
  });

  it('tells that the server is not running', async () => {
    assert.equal((await cli('stop')).code, 0);
    const run = await cli('destroy', '--all');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: the server is not running/);
  });
});
