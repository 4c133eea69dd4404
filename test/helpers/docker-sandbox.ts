// Test fixture for the real Docker backend: the project's private dockerd, the sandbox image, SSH into sandboxes, leak checks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'ssh2';
import type { VirtualizationInterface } from '../../src/virtualization/virtualization-interface.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** `latest` is retagged by every iso/build.sh run on a shared dockerd: ANWEDDOL_SANDBOX_IMAGE pins this checkout's recipe tag. */
export const SANDBOX_IMAGE = process.env.ANWEDDOL_SANDBOX_IMAGE || 'anweddol/sandbox:latest';

let cachedHost: string | undefined;

/** The private dockerd's DOCKER_HOST (started by scripts/dockerd.sh if needed); the sandbox image is built if missing. */
export function dockerHost(): string {
  if (cachedHost !== undefined) return cachedHost;
  let host = process.env.DOCKER_HOST;
  if (host === undefined || host === '') {
    const line = execFileSync('bash', [join(REPO, 'scripts/dockerd.sh'), 'up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    host = line.trim().replace(/^DOCKER_HOST=/, '');
  }
  const env = { ...process.env, DOCKER_HOST: host };
  try {
    execFileSync('docker', ['image', 'inspect', SANDBOX_IMAGE], { env, stdio: 'ignore' });
  } catch {
    execFileSync('bash', [join(REPO, 'iso/build.sh')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  cachedHost = host;
  return host;
}

let ownImage: string | undefined;

/**
 * This checkout's sandbox image, under a tag of its own. `iso/build.sh` (quick when its recipe is built) tags it `latest`
 * and its recipe hash, but other checkouts on the same dockerd retag `latest` to theirs and remove older recipes' tags
 * (the image goes with its last tag): a test whose sandboxes need this checkout's FL agent uses `anweddol/sandbox-pinned:<id>`,
 * a repository no build prunes.
 */
export function ownSandboxImage(): string {
  if (ownImage !== undefined) return ownImage;
  const id = execFileSync('bash', [join(REPO, 'iso/build.sh')], {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_HOST: dockerHost(), DOCKER_API_VERSION: '1.41' },
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim().split('\n').at(-1)!;
  const pinned = `anweddol/sandbox-pinned:${id.replace('sha256:', '').slice(0, 16)}`;
  docker(['tag', id, pinned]);
  ownImage = pinned;
  return pinned;
}

/** The docker CLI against a given daemon (API pinned to what Debian's dockerd speaks). */
export function docker(args: string[], host = dockerHost()): string {
  return execFileSync('docker', args, {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_HOST: host, DOCKER_API_VERSION: '1.41' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** Removes a sandbox network; one already gone (a backend removes its own at close when empty) is fine. */
export function removeNetwork(name: string, host = dockerHost()): void {
  if (docker(['network', 'ls', '-q', '--filter', `name=^${name}$`], host) !== '') docker(['network', 'rm', name], host);
}

/** A server id unique to one test file run, so files running in parallel never see each other's sandboxes. */
/** Removes a sandbox network a test's daemon made; gone already (or never made) is fine. */
export function removeNetworkIfAny(name: string): void {
  try {
    execFileSync('docker', ['network', 'rm', name], { stdio: 'ignore' });
  } catch {
    // not there
  }
}

export function uniqueServerId(name: string): string {
  return `test-${name}-${randomBytes(4).toString('hex')}`;
}

/** Ids of every container (any state) labelled as owned by `serverId`. */
export function containersOf(serverId: string, host = dockerHost()): string[] {
  const out = docker(['ps', '-aq', '--no-trunc', '--filter', `label=anweddol.server=${serverId}`], host);
  return out === '' ? [] : out.split('\n');
}

/** Removes the containers of `serverIds` (any state); returns their ids. */
export function removeContainersOf(...serverIds: string[]): string[] {
  const left = serverIds.flatMap((serverId) => containersOf(serverId));
  if (left.length > 0) docker(['rm', '-f', ...left]);
  return left;
}

/** Removes the containers of `serverIds` a test left behind, then fails the test if there were any. */
export function removeLeftContainers(...serverIds: string[]): void {
  assert.deepEqual(removeContainersOf(...serverIds), [], 'no container left behind');
}

/** Destroys every sandbox `backend` still lists and closes it; fails the test if a container of `serverId` survives that. */
export async function closeBackend(backend: Pick<VirtualizationInterface, 'list' | 'destroy' | 'close'>, serverId: string): Promise<void> {
  for (const sandbox of await backend.list()) await backend.destroy(sandbox.id);
  await backend.close();
  assert.deepEqual(containersOf(serverId), [], 'no container left behind');
}

export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Logs in with a password on 127.0.0.1 and runs one command (`pty`: on a terminal, as an interactive login has). */
export function sshRun(port: number, username: string, password: string, command: string, timeoutMs = 15_000, options: { pty?: boolean } = {}): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const timer = setTimeout(() => {
      client.end();
      reject(new Error(`ssh command timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      client.end();
      reject(error);
    };
    client
      .on('ready', () => {
        client.exec(command, { pty: options.pty === true }, (error, stream) => {
          if (error) return fail(error);
          let stdout = '';
          let stderr = '';
          stream.on('data', (d: Buffer) => (stdout += d.toString()));
          stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          stream.on('close', (code: number | null) => {
            clearTimeout(timer);
            client.end();
            resolve({ code, stdout, stderr });
          });
        });
      })
      .on('error', fail)
      .connect({ host: '127.0.0.1', port, username, password, readyTimeout: timeoutMs, tryKeyboard: false });
  });
}

/** An SSH login kept open (a remote `sleep`) until `close()`; the session sshd sees is a real one. */
export function sshOpen(port: number, username: string, password: string, timeoutMs = 15_000): Promise<{ close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const timer = setTimeout(() => {
      client.end();
      reject(new Error(`ssh login timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const closed = new Promise<void>((done) => client.once('close', () => done()));
    client
      .on('ready', () => {
        client.exec('sleep 600', (error) => {
          clearTimeout(timer);
          if (error) {
            client.end();
            return reject(error);
          }
          resolve({
            close: () => {
              client.end();
              return closed;
            },
          });
        });
      })
      .on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      })
      .connect({ host: '127.0.0.1', port, username, password, readyTimeout: timeoutMs, tryKeyboard: false });
  });
}

/** The host key fingerprint a sandbox's sshd presents (no login). */
export function sshHostKey(port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let key: string | undefined;
    const timer = setTimeout(() => {
      client.end();
      reject(new Error('no host key'));
    }, timeoutMs);
    client
      .on('error', () => {
        clearTimeout(timer);
        client.end();
        if (key !== undefined) resolve(key);
        else reject(new Error('ssh failed before the host key'));
      })
      .connect({
        host: '127.0.0.1',
        port,
        username: 'nobody',
        password: 'x',
        hostVerifier: (hashed: string) => {
          key = hashed;
          clearTimeout(timer);
          client.end();
          resolve(hashed);
          return false;
        },
        hostHash: 'sha256',
      });
  });
}

/** CapBnd of a sandbox without client_sudo: CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, KILL 5, SETGID 6, SETUID 7, NET_BIND_SERVICE 10, SYS_CHROOT 18, AUDIT_WRITE 29. */
export const SANDBOX_CAP_BOUNDING_SET = '00000000200404eb';
