// Fixture for daemons on scripts/swarm.sh's swarm: their config, what they own on each node, and a client's view of a sandbox.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { serverIdFor } from '../../src/daemon/virtualization-factory.js';
import { POOL_LABEL } from '../../src/server/warm-pool/warm-pool.js';
import { createTestInstall, type TestInstall } from './cli-runner.js';
import { docker, SANDBOX_IMAGE } from './docker-sandbox.js';
import { MANAGER_HOST, managerHostname, REGISTRY, WORKER_HOST, WORKER_HOSTNAME, WORKER_NETNS } from './swarm-harness.js';
import { testClientKeyPair } from './test-keys.js';

/** What CREATE tells a client, and its service. */
export interface CreatedOnSwarm {
  container_uuid: string;
  client_token: string;
  container_username: string;
  container_password: string;
  container_listen_port: number;
  expires_at: number | null;
  /** Its service's full id (the backend id events and session rows carry). */
  id: string;
}

/**
 * A daemon config on the swarm (2 sandboxes per node, the image by registry digest, egress rules on both nodes), with
 * `container` keys overridden; other sections are merged in whole.
 */
export async function swarmInstall(container: Record<string, unknown>, overrides: Record<string, Record<string, unknown>> = {}): Promise<TestInstall> {
  return createTestInstall({
    ...overrides,
    docker: { host: MANAGER_HOST, mode: 'swarm' },
    container: { image: SANDBOX_IMAGE, disk_limit: null, container_memory: 512, max_allowed_running_container_domains: 4, max_per_client: null, create_rate: null, warm_pool_size: 0, ...container },
    swarm: {
      registry: REGISTRY,
      max_per_node: 2,
      // Apart from the default range other swarms' tests use: managers on one machine share its NAT table.
      node_port_range: [31500, 31999],
      nodes: {
        [managerHostname()]: { docker: MANAGER_HOST, iptables: ['iptables'] },
        [WORKER_HOSTNAME]: { docker: WORKER_HOST, iptables: ['ip', 'netns', 'exec', WORKER_NETNS, 'iptables'] },
      },
    },
    network: { egress: 'internet' },
  });
}

export const serverIdOf = (install: TestInstall) => serverIdFor({ database: { file_path: join(install.dir, 'db/anweddol.db') } });

/** The daemon's services in the swarm (every node's, as the manager lists them), by 12-character id; `pool` keeps only warm-pool ones. */
export function servicesOf(serverId: string, pool = false): string[] {
  const filters = ['--filter', `label=anweddol.server=${serverId}`, ...(pool ? ['--filter', `label=${POOL_LABEL}=1`] : [])];
  return docker(['service', 'ls', '-q', ...filters], MANAGER_HOST).split('\n').filter(Boolean);
}

/** The daemon's containers on both nodes' engines, whatever their state. */
export function nodeContainersOf(serverId: string): string[] {
  return [MANAGER_HOST, WORKER_HOST].flatMap((host) => docker(['ps', '-aq', '--filter', `label=anweddol.server=${serverId}`], host).split('\n').filter(Boolean));
}

/** Session rows in the daemon's SQLite file. */
export function sessionRows(install: TestInstall): Array<{ id: number; container_id: string; port: number; expires_at: number | null }> {
  const db = new Database(join(install.dir, 'db/anweddol.db'), { readonly: true });
  try {
    return db.prepare('SELECT id, container_id, port, expires_at FROM sessions').all() as ReturnType<typeof sessionRows>;
  } finally {
    db.close();
  }
}

/** Edits the daemon's SQLite file while it is down (a deadline passed, a row lost). */
export function editSessions(install: TestInstall, sql: string, ...parameters: unknown[]): void {
  const db = new Database(join(install.dir, 'db/anweddol.db'));
  try {
    db.prepare(sql).run(...parameters);
  } finally {
    db.close();
  }
}

export async function swarmClient(install: TestInstall): Promise<AnweddolTcpClient> {
  return new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 60_000 });
}

export async function createOn(client: AnweddolTcpClient): Promise<CreatedOnSwarm> {
  const response = await client.create();
  assert.equal(response.success, true, response.message);
  const created = response.data as unknown as Omit<CreatedOnSwarm, 'id'>;
  return { ...created, id: serviceIdOf(created.container_uuid) };
}

/** Whether nothing listens on 127.0.0.1:port any more (a stopped forwarder). */
export function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** The hostname of the node a sandbox's service runs on (its current task). */
export function nodeOf(uuid: string): string {
  return docker(['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Node}}', `anweddol-${uuid}`], MANAGER_HOST).split('\n')[0] ?? '';
}

/** Whether the swarm still has this service (by full id). */
export function hasService(serverId: string, serviceId: string): boolean {
  return servicesOf(serverId).includes(serviceId.slice(0, 12));
}

/** The full id of a sandbox's service (what session rows hold). */
export function serviceIdOf(uuid: string): string {
  return docker(['service', 'inspect', '--format', '{{.ID}}', `anweddol-${uuid}`], MANAGER_HOST);
}

/** Whether the manager sees the worker ready and active (a worker engine restarted by `swarm.sh up` takes a few seconds to rejoin). */
export function workerReady(): boolean {
  return docker(['node', 'inspect', '--format', '{{.Status.State}} {{.Spec.Availability}}', WORKER_HOSTNAME], MANAGER_HOST) === 'ready active';
}

/** A service of the daemon's, as its pool fill, whose task never runs (no node matches it): what a daemon killed mid-creation leaves. */
export function unplacedService(serverId: string, image: string): string {
  const uuid = randomUUID();
  return docker(
    ['service', 'create', '-d', '-q', '--name', `anweddol-${uuid}`, '--label', `anweddol.server=${serverId}`, '--label', `anweddol.uuid=${uuid}`, '--label', `${POOL_LABEL}=1`,
      '--constraint', 'node.labels.anweddol-nowhere==1', '--restart-condition', 'none', image, 'sleep', 'infinity'],
    MANAGER_HOST,
  );
}
