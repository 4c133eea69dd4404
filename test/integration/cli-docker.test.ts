import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { AnweddolHttpClient } from '../../src/client/http-client.js';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { serverIdFor } from '../../src/daemon/virtualization-factory.js';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

// The private dockerd of scripts/dockerd.sh (scripts/test.sh exports DOCKER_HOST) and the image of iso/build.sh.
const dockerHost = process.env.DOCKER_HOST;

function ownedContainers(socket: string, serverId: string): Promise<unknown[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`anweddol.server=${serverId}`] }));
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: `/containers/json?all=1&filters=${filters}` }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve(JSON.parse(body) as unknown[]));
    });
    req.on('error', reject);
    req.end();
  });
}

function sshBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(10_000, () => socket.destroy(new Error('no SSH banner')));
    socket.once('data', (chunk: Buffer) => {
      socket.destroy();
      resolve(chunk.toString('latin1'));
    });
    socket.once('error', reject);
  });
}

describe('the CLI daemon with real sandboxes', { skip: dockerHost?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  let install: TestInstall;
  let serverId: string;
  const cli = (...args: string[]) => runCli([...args, '--config', install.configPath], { timeoutMs: 300_000 });
  const tcp = async () =>
    new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 60_000 });

  before(async () => {
    install = await createTestInstall({ docker: { host: dockerHost! }, container: { published_address: '127.0.0.1', max_allowed_running_container_domains: 3, container_memory: 256 } });
    serverId = serverIdFor(loadConfig(install.configPath, {}));
  });
  after(async () => {
    await cli('stop');
    install.remove();
  });

  it('builds (or reuses) the sandbox image with build-image', async () => {
    const run = await cli('build-image', '--json');
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    const out = jsonOf(run);
    assert.equal(out.status, 'OK');
    assert.match(String(out.data.image_id), /[0-9a-f]{12}/);
  });

  it('passes start --check', async () => {
    const run = await cli('start', '--check', '--web');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.stdout, 'Check passed: the server can start\n');
  });

  it('creates a sandbox over TCP that answers SSH, visible in stat, destroyed over REST', async () => {
    assert.equal((await cli('start', '--web')).code, 0);
    const created = await (await tcp()).create();
    assert.equal(created.message, 'OK', JSON.stringify(created));
    const { container_uuid, client_token, container_password, container_listen_port } = created.data as Record<string, string & number>;
    assert.match(await sshBanner(container_listen_port), /^SSH-2\.0-/);

    const stat = jsonOf(await cli('stat', '--json'));
    const sessions = stat.data.sessions as Array<{ port: number; age_seconds: number }>;
    assert.deepEqual(sessions.map((s) => s.port), [container_listen_port]);
    assert.equal((stat.data.containers as unknown[]).length, 1);
    assert.equal(stat.data.available, 2);
    assert.equal(jsonOf(await cli('status', '--json')).data.sandboxes, 1);

    const rest = new AnweddolHttpClient({ baseUrl: `http://127.0.0.1:${install.config.web_server!.listen_port as number}` });
    assert.equal((await rest.destroy(container_uuid, client_token)).message, 'OK');
    assert.deepEqual(jsonOf(await cli('stat', '--json')).data.sessions, []);
    assert.deepEqual(await ownedContainers(dockerHost!.slice('unix://'.length), serverId), []);

    const log = readFileSync(join(install.dir, 'log/server.log'), 'utf8');
    assert.match(log, /sandbox [0-9a-f]{12} created, SSH on port \d+/);
    for (const secret of [container_uuid, client_token, container_password]) assert.equal(log.includes(secret), false, 'secret in the log');
  });

  it('destroys its sandboxes when stopped', async () => {
    assert.equal((await (await tcp()).create()).message, 'OK');
    assert.equal((await ownedContainers(dockerHost!.slice('unix://'.length), serverId)).length, 1);
    assert.equal((await cli('stop')).code, 0);
    assert.deepEqual(await ownedContainers(dockerHost!.slice('unix://'.length), serverId), []);
  });
});
