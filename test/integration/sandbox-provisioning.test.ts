// The client login made by the sandbox entrypoint (password on its stdin) on the real dockerd: logins, failures, secrecy, the exec fallback.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DockerVirtualization } from '../../src/virtualization/docker/docker-virtualization.js';
import type { SandboxSpec } from '../../src/virtualization/virtualization-interface.js';
import { containersOf, docker, dockerHost, SANDBOX_IMAGE, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';

// The same image, saying its entrypoint cannot make the login: the daemon must then make it with docker exec.
const EXEC_IMAGE = `anweddol/sandbox-test-exec:${randomBytes(4).toString('hex')}`;
const backends: Array<{ backend: DockerVirtualization; serverId: string }> = [];

function spec(n: number, username = `user_${20000 + n}`): SandboxSpec {
  return { uuid: randomUUID(), username, password: `Pw${randomBytes(24).toString('hex')}${n}` };
}

async function backendFor(image: string, name: string, readyTimeoutSeconds = 30): Promise<DockerVirtualization> {
  const serverId = uniqueServerId(name);
  const backend = new DockerVirtualization({ dockerHost: dockerHost(), image, serverId, publishedAddress: '127.0.0.1', portRange: [13000, 13999], readyTimeoutSeconds });
  await backend.start();
  backends.push({ backend, serverId });
  return backend;
}

/** `docker exec` processes started in a container since it was created (dockerd's events). */
function execsIn(containerId: string, since: number): number {
  const out = docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', `container=${containerId}`, '--filter', 'event=exec_create', '--format', '{{.Action}}']);
  return out === '' ? 0 : out.split('\n').length;
}

before(() => {
  const label = docker(['image', 'inspect', '--format', '{{index .Config.Labels "anweddol.provisioning"}}', SANDBOX_IMAGE]);
  assert.equal(label, 'entrypoint', `${SANDBOX_IMAGE} predates entrypoint provisioning: rebuild it with iso/build.sh (or set ANWEDDOL_SANDBOX_IMAGE)`);
  execFileSync('docker', ['build', '-q', '-t', EXEC_IMAGE, '-'], {
    input: `FROM ${SANDBOX_IMAGE}\nLABEL anweddol.provisioning=exec\n`,
    env: { ...process.env, DOCKER_HOST: dockerHost(), DOCKER_API_VERSION: '1.41' },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
});

after(async () => {
  for (const { backend, serverId } of backends) {
    for (const id of containersOf(serverId)) docker(['rm', '-f', id]);
    await backend.close();
  }
  docker(['rmi', EXEC_IMAGE]);
});

describe('the client login of a new sandbox', () => {
  it('is made by the entrypoint before sshd answers, without any docker exec', async () => {
    const backend = await backendFor(SANDBOX_IMAGE, 'entrypoint');
    const since = Math.floor(Date.now() / 1000) - 1;
    const s = spec(1);
    const sandbox = await backend.create(s);
    assert.equal((await sshRun(sandbox.port, s.username, s.password, 'id -un')).stdout, `${s.username}\n`);
    assert.equal(execsIn(sandbox.id, since), 0);
    await backend.destroy(sandbox.id);
  });

  it('never shows the password in the container configuration, its log or its init process', async () => {
    const backend = await backendFor(SANDBOX_IMAGE, 'secret');
    const s = spec(2);
    const sandbox = await backend.create(s);
    const inspected = docker(['inspect', sandbox.id]);
    const log = execFileSync('docker', ['logs', sandbox.id], { env: { ...process.env, DOCKER_HOST: dockerHost(), DOCKER_API_VERSION: '1.41' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const init = docker(['exec', sandbox.id, 'sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; echo; tr "\\0" "\\n" < /proc/1/environ; ls -l /proc/1/fd/0']);
    for (const text of [inspected, log, init]) assert.equal(text.includes(s.password), false);
    assert.match(init, /\/dev\/null/);
    await backend.destroy(sandbox.id);
  });

  it('fails the creation as soon as the login setup fails, not at the readiness timeout, and leaves nothing', async () => {
    // A readiness timeout far beyond the test's: only the exit can end this creation in time.
    const backend = await backendFor(SANDBOX_IMAGE, 'failing', 3600);
    await assert.rejects(backend.create(spec(3, 'Not-A-Valid-Name')), /exited while making the client login/);
    assert.deepEqual(containersOf(backends.at(-1)!.serverId), []);
    assert.equal(backend.portsInUse(), 0);
  });

  it('is made with docker exec when the image does not say its entrypoint makes it', async () => {
    const backend = await backendFor(EXEC_IMAGE, 'exec');
    const since = Math.floor(Date.now() / 1000) - 1;
    const s = spec(4);
    const sandbox = await backend.create(s);
    assert.equal((await sshRun(sandbox.port, s.username, s.password, 'id -un')).stdout, `${s.username}\n`);
    assert.equal(execsIn(sandbox.id, since), 1);
    await backend.destroy(sandbox.id);
  });
});
