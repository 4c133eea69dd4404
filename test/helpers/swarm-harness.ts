// Test fixture for the swarm backend: scripts/swarm.sh's two-node swarm (up before, down after, on every path) and the sandbox image in its registry.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { docker, dockerHost, REPO, SANDBOX_IMAGE } from './docker-sandbox.js';

/** scripts/swarm.sh's ANWEDDOL_SWARM_ID: 0 (the default) in CI; developers running two swarms at once give each its own. */
const SWARM_ID = Number(process.env.ANWEDDOL_SWARM_ID ?? '0');
export const SWARM_DIR = process.env.ANWEDDOL_SWARM_DIR ?? join(REPO, '.cache', SWARM_ID === 0 ? 'swarm' : `swarm-${SWARM_ID}`);
export const MANAGER_HOST = `unix://${join(SWARM_DIR, 'manager', 'docker.sock')}`;
export const WORKER_HOST = `unix://${join(SWARM_DIR, 'worker', 'docker.sock')}`;
export const WORKER_HOSTNAME = 'anweddol-swarm-worker';
export const WORKER_NETNS = SWARM_ID === 0 ? 'anweddol-swarm' : `anweddol-swarm-${SWARM_ID}`;
export const MANAGER_ADDRESS = `10.240.${SWARM_ID}.1`;
export const WORKER_ADDRESS = `10.240.${SWARM_ID}.2`;
export const REGISTRY = `${MANAGER_ADDRESS}:5000`;

function swarmScript(action: 'up' | 'down'): string {
  return execFileSync('bash', [join(REPO, 'scripts/swarm.sh'), action], {
    encoding: 'utf8',
    env: { ...process.env, ANWEDDOL_SWARM_DIR: SWARM_DIR, ANWEDDOL_SWARM_ID: String(SWARM_ID) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Starts (or reuses) the swarm; returns the manager's DOCKER_HOST. */
export function swarmUp(): string {
  return swarmScript('up').trim().replace(/^DOCKER_HOST=/, '');
}

export function swarmDown(): void {
  swarmScript('down');
}

/**
 * The sandbox image of the shared engine, in the swarm's registry, as a digest reference (what `build-image` will push):
 * copied into the manager only when its id differs, pushed (a no-op for layers already there).
 */
export function pushSandboxImage(): string {
  return pushImageToSwarmRegistry(SANDBOX_IMAGE);
}

/** The manager's node hostname (this machine's: the manager is the private dockerd on the host). */
export function managerHostname(): string {
  return docker(['info', '--format', '{{.Name}}'], MANAGER_HOST);
}

/** Sets a node's availability (`active` or `drain`) through the manager. */
export function setAvailability(hostname: string, availability: 'active' | 'drain'): void {
  docker(['node', 'update', '--availability', availability, hostname], MANAGER_HOST);
}

/** SIGKILL to the worker's dockerd: the node goes silent, as a crashed machine would. */
export function killWorkerDockerd(): void {
  const pid = execFileSync('cat', [join(SWARM_DIR, 'worker', 'dockerd.pid')], { encoding: 'utf8' }).trim();
  process.kill(Number(pid), 'SIGKILL');
}

/** iptables inside the worker's network namespace. */
export function workerIptables(args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', WORKER_NETNS, 'iptables', '-w', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A program run inside the worker's network namespace, as a `swarm.nodes.<node>.<command>` prefix (iptables, btrfs). */
export function workerCommand(...program: string[]): string[] {
  return ['ip', 'netns', 'exec', WORKER_NETNS, ...program];
}

/** An image of the shared engine (e.g. `ownSandboxImage()`) pushed to the swarm's registry under its own name; answers its digest reference there. */
export function pushImageToSwarmRegistry(image: string): string {
  const id = docker(['image', 'inspect', '--format', '{{.Id}}', image], dockerHost());
  const colon = image.lastIndexOf(':');
  const [name, tag] = colon > image.lastIndexOf('/') ? [image.slice(0, colon), image.slice(colon + 1)] : [image, 'latest'];
  const registryImage = `${REGISTRY}/${name}`;
  let present = '';
  try {
    present = docker(['image', 'inspect', '--format', '{{.Id}}', `${registryImage}:${tag}`], MANAGER_HOST);
  } catch {
    // not loaded yet
  }
  if (present !== id) {
    execFileSync('bash', ['-c', 'docker save "$1" | DOCKER_HOST="$2" docker load -q', 'sh', image, MANAGER_HOST], {
      env: { ...process.env, DOCKER_HOST: dockerHost(), DOCKER_API_VERSION: '1.41' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    docker(['tag', image, `${registryImage}:${tag}`], MANAGER_HOST);
  }
  docker(['push', `${registryImage}:${tag}`], MANAGER_HOST);
  const digests = docker(['image', 'inspect', '--format', '{{join .RepoDigests "\\n"}}', `${registryImage}:${tag}`], MANAGER_HOST);
  const reference = digests.split('\n').find((d) => d.startsWith(`${registryImage}@sha256:`));
  if (reference === undefined) throw new Error(`no registry digest for ${registryImage}`);
  return reference;
}
