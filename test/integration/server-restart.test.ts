// AnweddolServer.stop() then start() on the same object (Anweddol's restartServer): listeners, backend and hooks all come back.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AnweddolHttpClient } from '../../src/client/http-client.js';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { AnweddolServer } from '../../src/server/anweddol-server.js';
import { HttpListener } from '../../src/server/http-listener.js';
import { DockerVirtualization } from '../../src/virtualization/docker/docker-virtualization.js';
import { freePort } from '../helpers/cli-runner.js';
import { containersOf, dockerHost, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';
import { testClientKeyPair, testServerKeyPair } from '../helpers/test-keys.js';

describe('a server stopped and started again', { skip: process.env.DOCKER_HOST?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  const serverId = uniqueServerId('restart');
  let server: AnweddolServer;
  let tcp: AnweddolTcpClient;
  let rest: AnweddolHttpClient;
  let started = 0;

  before(async () => {
    const [tcpPort, httpPort] = [await freePort(), await freePort()];
    const virtualization = new DockerVirtualization({ dockerHost: dockerHost(), serverId, publishedAddress: '127.0.0.1', portRange: [13000, 13099], memoryMiB: 256, vcpus: 1 });
    server = new AnweddolServer({ rsaKeyPair: await testServerKeyPair(), bindAddress: '127.0.0.1', listenPort: tcpPort, rsaWorkers: 1, virtualization, timeoutSeconds: 60 });
    server.addTransport(new HttpListener({ server, bindAddress: '127.0.0.1', port: httpPort }));
    server.on('server_started', () => void started++);
    server.setRequestHandler('HELLO', () => ({ success: true, message: 'OK', data: {} }));
    await server.start();
    await server.stop();
    await server.start();
    tcp = new AnweddolTcpClient({ host: '127.0.0.1', port: tcpPort, keyPair: await testClientKeyPair(), timeoutMs: 60_000 });
    rest = new AnweddolHttpClient({ baseUrl: `http://127.0.0.1:${httpPort}` });
  });
  after(async () => {
    await server.stop();
    assert.deepEqual(containersOf(serverId), []);
  });

  it('reports itself running again', () => {
    assert.equal(server.getRuntimeStatistics().isRunning, true);
    assert.equal(started, 2);
  });

  it('answers over TCP and REST on the same ports', async () => {
    assert.equal((await tcp.stat()).message, 'OK');
    assert.equal((await rest.stat()).message, 'OK');
  });

  it('keeps the custom verbs set before the restart', async () => {
    assert.equal((await rest.request('HELLO')).message, 'OK');
  });

  it('creates a sandbox a client logs in to, through the reopened backend', async () => {
    const created = await tcp.create();
    assert.equal(created.message, 'OK', JSON.stringify(created));
    const { container_username, container_password, container_listen_port } = created.data as Record<string, string & number>;
    const login = await sshRun(container_listen_port, container_username, container_password, 'echo restarted');
    assert.equal(login.stdout.trim(), 'restarted');
  });
});
