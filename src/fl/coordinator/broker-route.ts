// A training's broker names, agent URLs and per-client broker users: pure functions, the I/O lives in broker-agent-transport.ts.
import { createHash } from 'node:crypto';

/** A broker user for one agent: it may read its own queue, write the training's upload exchange, and configure nothing. */
export interface BrokerUser {
  name: string;
  password: string;
  configure: string;
  write: string;
  read: string;
}

export interface BrokerRoute {
  /** Coordinator → agents (direct, routing key = client id). */
  notifyExchange: string;
  /** Agents → coordinator (fanout to the coordinator's queue). */
  uploadExchange: string;
  coordinatorQueue: string;
  clients: Map<string, { queue: string; user?: BrokerUser }>;
}

/** Connections and channels one agent needs (one each), with a margin for a reconnect. */
export const AGENT_USER_LIMITS = { 'max-connections': 2, 'max-channels': 4 } as const;

const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

function exact(name: string): string {
  return `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

/**
 * Names carry a 128-bit random nonce: an agent cannot guess another training's names. With `password` (per-client users),
 * each agent also gets a user whose permissions name its own queue and its training's upload exchange only.
 */
export function brokerRoute(nonce: string, clientIds: readonly string[], password?: () => string): BrokerRoute {
  if (!/^[0-9a-f]{32}$/.test(nonce)) throw new RangeError('the route nonce must be 32 hex digits');
  const prefix = `anweddol.fl.${nonce}`;
  const uploadExchange = `${prefix}.upload`;
  const clients = new Map<string, { queue: string; user?: BrokerUser }>();
  for (const id of clientIds) {
    if (!CLIENT_ID.test(id)) throw new RangeError(`invalid client id ${JSON.stringify(id)}`);
    const queue = `${prefix}.client.${id}`;
    const user = password && { name: `anweddol-fl-${nonce.slice(0, 12)}-${id}`, password: password(), configure: '^$', write: exact(uploadExchange), read: exact(queue) };
    clients.set(id, { queue, ...(user ? { user } : {}) });
  }
  return { notifyExchange: `${prefix}.notify`, uploadExchange, coordinatorQueue: `${prefix}.coordinator`, clients };
}

/** The vhost an amqp(s) URL names ('/' when the path is empty). */
export function vhostOf(url: string): string {
  const path = new URL(url).pathname;
  return path === '' || path === '/' ? '/' : decodeURIComponent(path.slice(1));
}

/** What agents dial when `fl.rabbitmq.agent_url` is not set: the daemon's URL on the sandbox gateway, without its credentials. */
export function defaultAgentUrl(daemonUrl: string, gateway: string): string {
  const u = new URL(daemonUrl);
  u.username = '';
  u.password = '';
  u.hostname = gateway;
  return u.toString();
}

/** The TCP port an amqp(s) URL names (AMQP's defaults otherwise). */
export function brokerPortOf(url: string): number {
  const u = new URL(url);
  return u.port === '' ? (u.protocol === 'amqps:' ? 5671 : 5672) : Number(u.port);
}

/** The agent URL with a client's own credentials (or as configured when users are shared). */
export function agentUrlFor(agentUrl: string, user?: BrokerUser): string {
  if (!user) return agentUrl;
  const u = new URL(agentUrl);
  u.username = encodeURIComponent(user.name);
  u.password = encodeURIComponent(user.password);
  return u.toString();
}

/** RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt ‖ sha256(salt ‖ password)); the broker never sees the password. */
export function passwordHash(password: string, salt: Buffer): string {
  return Buffer.concat([salt, createHash('sha256').update(Buffer.concat([salt, Buffer.from(password, 'utf8')])).digest()]).toString('base64');
}

/** A definitions document (`rabbitmqctl import_definitions`) that creates the users with their permissions and limits in one call. */
export function userDefinitions(users: readonly BrokerUser[], vhost: string, salt: () => Buffer): Record<string, unknown> {
  return {
    users: users.map((u) => ({ name: u.name, password_hash: passwordHash(u.password, salt()), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [], limits: AGENT_USER_LIMITS })),
    permissions: users.map((u) => ({ user: u.name, vhost, configure: u.configure, write: u.write, read: u.read })),
  };
}
