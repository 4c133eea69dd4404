// container.max_per_client end to end: real TCP clients from two loopback addresses, real dockerd sandboxes, SQLite sessions, SSH.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { containersOf, docker, dockerHost, SANDBOX_IMAGE, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';
import { startSandboxServer, type CreatedData, type SandboxServer } from '../helpers/sandbox-server.js';

const serverId = uniqueServerId('per-client');
const dir = mkdtempSync(join(tmpdir(), 'anweddol-per-client-'));
const databaseFile = join(dir, 'anweddol.db');
let current: SandboxServer | undefined;
const CLIENT_ID_KEY = randomBytes(32);

function start(): Promise<SandboxServer> {
  return startSandboxServer({
    databaseFile,
    backend: { dockerHost: dockerHost(), image: SANDBOX_IMAGE, serverId },
    // One client-id key across both server objects, as the daemon keeps one per install.
    serverOptions: { maxSandboxesPerClient: 2, clientIdKey: CLIENT_ID_KEY },
  }).then((s) => (current = s));
}

async function create(client: AnweddolTcpClient): Promise<CreatedData> {
  const response = await client.create();
  assert.equal(response.message, 'OK');
  return response.data as unknown as CreatedData;
}

after(async () => {
  await current?.stop();
  for (const id of containersOf(serverId)) docker(['rm', '-f', id]);
  rmSync(dir, { recursive: true, force: true });
});

describe('container.max_per_client on the real Docker backend', () => {
  const created: Array<{ data: CreatedData; from: string }> = [];

  it('refuses the third CREATE from 127.0.0.1 while 127.0.0.2 still gets a sandbox it logs into', async () => {
    const s = await start();
    for (let i = 0; i < 2; i++) created.push({ data: await create(s.clientFrom('127.0.0.1')), from: '127.0.0.1' });
    assert.deepEqual(await s.clientFrom('127.0.0.1').create(), { success: false, message: 'Refused request (max_per_client)', data: {} });
    assert.equal(containersOf(serverId).length, 2);
    const neighbour = await create(s.clientFrom('127.0.0.2'));
    created.push({ data: neighbour, from: '127.0.0.2' });
    const login = await sshRun(neighbour.container_listen_port, neighbour.container_username, neighbour.container_password, 'id -un');
    assert.equal(login.stdout, `${neighbour.container_username}\n`);
    assert.equal(containersOf(serverId).length, 3);
  });

  it('keeps an HMAC of each client in the session rows, never its address', () => {
    const rows = current!.database.db.prepare('SELECT client_key_hmac AS digest FROM sessions').all() as Array<{ digest: string }>;
    assert.equal(rows.length, 3);
    for (const row of rows) assert.match(row.digest, /^[0-9a-f]{64}$/);
    assert.deepEqual(new Set(rows.map((r) => r.digest)).size, 2);
    current!.database.db.pragma('wal_checkpoint(TRUNCATE)');
    assert.equal(readFileSync(databaseFile).includes('127.0.0.'), false);
  });

  it('still counts the sessions of 127.0.0.1 after a restart on the same database', async () => {
    await current!.stop();
    const s = await start();
    assert.equal((await s.clientFrom('127.0.0.1').create()).message, 'Refused request (max_per_client)');
  });

  it('gives 127.0.0.1 its place back once it destroys a sandbox, and leaves no container behind', async () => {
    const s = current!;
    const mine = created.find((c) => c.from === '127.0.0.1')!;
    assert.equal((await s.clientFrom('127.0.0.1').destroy(mine.data.container_uuid, mine.data.client_token)).message, 'OK');
    created.splice(created.indexOf(mine), 1);
    created.push({ data: await create(s.clientFrom('127.0.0.1')), from: '127.0.0.1' });
    for (const { data, from } of created) assert.equal((await s.clientFrom(from).destroy(data.container_uuid, data.client_token)).message, 'OK');
    assert.deepEqual(containersOf(serverId), []);
    assert.equal(s.sessions.count(), 0);
  });
});
