// examples/embed.ts, run as a program importing 'anweddol-server', serves real clients and real sandboxes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnweddolHttpClient } from '../../src/client/http-client.js';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { freePort, REPO_ROOT } from '../helpers/cli-runner.js';
import { containersOf, dockerHost, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

interface Embedded {
  child: ChildProcess;
  /** Resolves with each JSON line the program prints, in order. */
  nextLine(): Promise<Record<string, unknown>>;
  exit: Promise<number | null>;
}

/** Runs the example from source: the `anweddol-source` condition maps the package entry to src/index.ts. */
function runExample(env: Record<string, string>): Embedded {
  const child = spawn(process.execPath, ['--conditions=anweddol-source', '--import', 'tsx', join(REPO_ROOT, 'examples/embed.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const nextLine = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const take = (line: string) => resolve(JSON.parse(line) as Record<string, unknown>);
      const line = lines.shift();
      if (line !== undefined) take(line);
      else waiting.push(take);
      void exit.then((code) => reject(new Error(`the example exited (${code}) before printing`)));
    });
  return { child, nextLine, exit };
}

describe('examples/embed.ts', { skip: process.env.DOCKER_HOST?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  const serverId = uniqueServerId('embed');
  const home = mkdtempSync(join(tmpdir(), 'anweddol-embed-'));
  let example: Embedded;
  let token: string;
  let tcp: AnweddolTcpClient;
  let rest: AnweddolHttpClient;

  before(async () => {
    const [tcpPort, httpPort] = [await freePort(), await freePort()];
    example = runExample({ EMBED_HOME: home, EMBED_SERVER_ID: serverId, EMBED_TCP_PORT: String(tcpPort), EMBED_HTTP_PORT: String(httpPort), DOCKER_HOST: dockerHost() });
    const started = await example.nextLine();
    assert.equal(started.started, true);
    token = started.access_token as string;
    tcp = new AnweddolTcpClient({ host: '127.0.0.1', port: tcpPort, keyPair: await testClientKeyPair(), timeoutMs: 60_000 });
    rest = new AnweddolHttpClient({ baseUrl: `http://127.0.0.1:${httpPort}` });
  });
  after(async () => {
    if (example.child.exitCode === null) example.child.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  });

  it('requires the access token it printed', async () => {
    assert.equal((await tcp.stat()).message, 'Bad request (Access token is required)');
    assert.equal((await tcp.stat({ access_token: token })).message, 'OK');
  });

  it('answers its custom verb over REST', async () => {
    const hello = await rest.request('HELLO', { access_token: token });
    assert.equal(hello.message, 'OK');
    assert.match(String(hello.data.you), /^[0-9a-f]{12}$/);
  });

  it('creates a sandbox over TCP that a client logs in to, destroyed over REST', async () => {
    const created = await tcp.create({ access_token: token });
    assert.equal(created.message, 'OK', JSON.stringify(created));
    const { container_uuid, client_token, container_username, container_password, container_listen_port } = created.data as Record<string, string & number>;
    assert.equal((await sshRun(container_listen_port, container_username, container_password, 'echo embedded')).stdout.trim(), 'embedded');
    assert.equal((await rest.destroy(container_uuid, client_token, { access_token: token })).message, 'OK');
    assert.deepEqual(containersOf(serverId), []);
  });

  it('stops on SIGTERM, exits 0 and leaves no sandbox', async () => {
    assert.equal((await tcp.create({ access_token: token })).message, 'OK');
    example.child.kill('SIGTERM');
    assert.deepEqual(await example.nextLine(), { stopped: true });
    assert.equal(await example.exit, 0);
    assert.deepEqual(containersOf(serverId), []);
  });
});
