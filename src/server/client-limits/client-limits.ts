// The per-client limits (sandboxes, CREATE rate, connections): who a client is, its buckets and counters, and how a refusal is logged and counted.
import { createHmac } from 'node:crypto';
import type { Logger } from '../../shared/logger.js';
import { refusedRequest, type ProtocolError } from '../errors.js';
import type { ServerObserver } from '../server-observer.js';
import type { ClientInfo } from '../types.js';
import { ClientCounter } from './client-counter.js';
import { clientKeyOf } from './client-key.js';
import { systemClock, type Clock } from './clock.js';
import { NoticeThrottle } from './notice-throttle.js';
import { parseRate, type Rate } from './rate.js';
import { TokenBucket } from './token-bucket.js';

/** Named after their config keys; the name is the reason in `Refused request (<name>)`. */
export type ClientLimitName = 'max_per_client' | 'create_rate' | 'max_connections_per_client';

export type ClientLimitRefusals = Record<ClientLimitName, number>;

/** The per-client limits as AnweddolServer takes them (part of its options). */
export interface ClientLimitServerOptions {
  /** Live sandboxes one client may hold; beyond, CREATE answers `Refused request (max_per_client)`. Default null (no limit). */
  maxSandboxesPerClient?: number | null;
  /** CREATE rate per client, a token bucket given as "N/s", "N/min" or "N/h"; `Refused request (create_rate)`. Default null (no limit). */
  createRate?: string | null;
  /** Open connections per client, TCP and REST together; beyond, new ones are closed at accept. Default null (no limit). */
  maxConnectionsPerClient?: number | null;
  /** IPv6 clients are one client per prefix of this length (default 64); IPv4 clients per address. */
  ipv6ClientPrefixLength?: number;
}

/**
 * Checks the server's per-client options (RangeError naming the option) and builds the limits. Session rows keep their
 * client under a key derived from the install's client-id key, so a log id and a row never share a digest.
 */
export function createClientLimits(
  settings: Required<ClientLimitServerOptions> & { clientIdKey: Buffer; logger: Logger; observer?: ClientLimitsOptions['observer'] },
): ClientLimits {
  const perClient = [settings.maxSandboxesPerClient, settings.maxConnectionsPerClient];
  if (perClient.some((n) => n !== null && (!Number.isInteger(n) || n < 1))) throw new RangeError('per-client limits must be integers ≥ 1 or null');
  const prefix = settings.ipv6ClientPrefixLength;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 128) throw new RangeError('ipv6ClientPrefixLength must be 1–128');
  let createRate: Rate | null;
  try {
    createRate = settings.createRate === null ? null : parseRate(settings.createRate);
  } catch (error) {
    throw new RangeError(`createRate: ${(error as Error).message}`, { cause: error });
  }
  return new ClientLimits({
    maxSandboxesPerClient: settings.maxSandboxesPerClient,
    createRate,
    maxConnectionsPerClient: settings.maxConnectionsPerClient,
    ipv6PrefixLength: prefix,
    digestKey: createHmac('sha256', settings.clientIdKey).update('anweddol session client digest v1').digest(),
    logger: settings.logger,
    observer: settings.observer,
  });
}

export interface ClientLimitsOptions {
  /** Live sandboxes per client; null = no limit. */
  maxSandboxesPerClient: number | null;
  /** CREATE token bucket per client; null = no limit. */
  createRate: Rate | null;
  /** Open connections per client, TCP and REST together; null = no limit. */
  maxConnectionsPerClient: number | null;
  /** IPv6 clients are counted per prefix of this length (64: one site, 128: one address). */
  ipv6PrefixLength: number;
  /** HMAC key for the client digests stored in session rows. */
  digestKey: Buffer;
  logger: Logger;
  clock?: Clock;
  /** Told of every refusal (metrics). */
  observer?: Pick<ServerObserver, 'refused'>;
}

const NOTICE_WINDOW_MS = 60_000;
// Past this many buckets, full ones (identical to fresh ones) are dropped, so memory follows active clients.
const BUCKET_PRUNE_THRESHOLD = 10_000;

export class ClientLimits {
  readonly maxSandboxesPerClient: number | null;
  private readonly clock: Clock;
  private readonly connections: ClientCounter;
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly notices: NoticeThrottle;
  private readonly refused: ClientLimitRefusals = { max_per_client: 0, create_rate: 0, max_connections_per_client: 0 };

  constructor(private readonly options: ClientLimitsOptions) {
    this.maxSandboxesPerClient = options.maxSandboxesPerClient;
    this.clock = options.clock ?? systemClock;
    this.connections = new ClientCounter(options.maxConnectionsPerClient);
    this.notices = new NoticeThrottle(NOTICE_WINDOW_MS, this.clock);
  }

  keyOf(address: string): string {
    return clientKeyOf(address, this.options.ipv6PrefixLength);
  }

  /** What a session row records of its client: an HMAC of the client key, never the address. */
  digestOf(address: string): string {
    return createHmac('sha256', this.options.digestKey).update(this.keyOf(address)).digest('hex');
  }

  /** One more open connection for this client, or undefined (counted and logged) when it is at its cap. */
  tryOpenConnection(client: ClientInfo): (() => void) | undefined {
    const release = this.connections.tryAcquire(this.keyOf(client.address));
    if (release === undefined) this.refusal('max_connections_per_client', client);
    return release;
  }

  /** Takes one CREATE token; throws `Refused request (create_rate)` when the client's bucket is empty. */
  takeCreateToken(client: ClientInfo): void {
    const rate = this.options.createRate;
    if (rate === null) return;
    const key = this.keyOf(client.address);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= BUCKET_PRUNE_THRESHOLD) this.pruneBuckets();
      bucket = new TokenBucket(rate, this.clock);
      this.buckets.set(key, bucket);
    }
    if (!bucket.tryTake()) throw this.refusal('create_rate', client);
  }

  /** Counts a refusal, logs it once per client and minute, and returns the protocol answer. */
  refusal(limit: ClientLimitName, client: ClientInfo): ProtocolError {
    this.refused[limit]++;
    this.options.observer?.refused?.(limit);
    if (this.notices.shouldNotice(`${limit} ${this.keyOf(client.address)}`)) {
      this.options.logger.warn(`client ${client.id}: refused by the per-client limit ${limit} (logged once a minute per client)`);
    }
    return refusedRequest(limit);
  }

  refusals(): ClientLimitRefusals {
    return { ...this.refused };
  }

  private pruneBuckets(): void {
    for (const [key, bucket] of this.buckets) if (bucket.isFull()) this.buckets.delete(key);
  }
}
