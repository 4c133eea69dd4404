// The AnweddolServer options: what an embedding program may set, their defaults, and the checks that refuse bad values at construction.
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { RsaKeyPair } from '../crypto/rsa-key-pair.js';
import type { SessionStore } from '../database/session-store.js';
import type { VirtualizationInterface } from '../virtualization/virtualization-interface.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { packageVersion } from '../shared/package-info.js';
import { MIN_CLIENT_ID_KEY_BYTES } from './client-info.js';
import type { ClientLimitServerOptions } from './client-limits/client-limits.js';
import { LIFETIME_DEFAULTS, type LifetimeServerOptions } from './lifetimes/lifetime-policy.js';
import { MemorySessionStore } from './memory-session-store.js';
import { DEFAULT_MAX_FRAME_SIZE } from './protocol/frame.js';
import { DEFAULT_MAX_KEY_LENGTH } from './protocol/handshake.js';
import type { PortAllocator, PortForwardingMode } from './port-forwarding/sandbox-forwarders.js';
import type { AccessTokenVerifier } from './request-dispatcher.js';

export interface AnweddolServerOptions extends ClientLimitServerOptions, LifetimeServerOptions {
  bindAddress?: string;
  listenPort?: number;
  timeoutSeconds?: number;
  maxConnections?: number;
  maxFrameSize?: number;
  maxKeyLength?: number;
  rsaKeyPair: RsaKeyPair;
  /** Absent → CREATE answers `Unavailable (no virtualization backend)`. */
  virtualization?: VirtualizationInterface;
  /** Port forwarders (README "Port forwarding"). Absent: mode `auto` without ports, so a sandbox whose port is on another host cannot be handed out. */
  portForwarding?: PortForwardingOptions;
  /** Absent → an in-memory store. */
  sessions?: SessionStore;
  /** Default 6; null = no limit ("nolimit" in STAT). */
  maxSandboxes?: number | null;
  destroyOnStop?: boolean;
  /** Bound on one CREATE's sandbox creation, in ms (default 120 000): a hung backend answers `Unavailable`. */
  createTimeoutMs?: number;
  /** Ready sandboxes CREATE claims (docs: README "Warm pool"); default 0 (off); at most maxSandboxes. */
  warmPoolSize?: number;
  /** Pool fills running at once; default 2. */
  warmPoolRefillConcurrency?: number;
  /** Seconds after which an unclaimed pool sandbox is recycled; default null (never). */
  warmPoolMaxAgeSeconds?: number | null;
  logger?: Logger;
  /** false → TCP: close before key exchange; other transports: Refused request. */
  ipFilter?: (address: string) => boolean;
  /** Present = access tokens required (docs/protocol.md §4). */
  accessTokens?: AccessTokenVerifier;
  version?: string;
  enableTcp?: boolean;
  /** Worker threads for RSA-OAEP private decryption; 0 = decrypt on the event loop. Default: one per core, at most 4. */
  rsaWorkers?: number;
  /** Scheduling niceness of those threads (0–19; Linux applies it per thread) so socket I/O wins CPU contention. Default 0. */
  rsaWorkerNiceness?: number;
  /**
   * Key of the client ids in logs (HMAC-SHA256 of the address, ≥ 16 bytes). The daemon keeps one per install;
   * default: random per server object, so ids are stable only while it lives.
   */
  clientIdKey?: Buffer;
}

export interface PortForwardingOptions {
  /** Default `auto`: only sandboxes whose port is not on this host (swarm) are forwarded. */
  mode?: PortForwardingMode;
  /** Where forwarders listen (`container.published_address`); default 0.0.0.0. */
  listenAddress?: string;
  /** Ports of `port_forwarding.port_range`. */
  ports?: PortAllocator;
  /** Connections one forwarder pipes at once; default 32. */
  maxConnections?: number;
  /** Of those, from one source (IPv4 address, IPv6 /64) at most; default 8; null: no cap per source. */
  maxConnectionsPerSource?: number | null;
}

/** Every option set: the optional collaborators stay optional, everything else has its default. */
export type ResolvedServerOptions = Readonly<Required<Omit<AnweddolServerOptions, 'virtualization' | 'accessTokens' | 'ipFilter' | 'portForwarding'>>> &
  Pick<AnweddolServerOptions, 'virtualization' | 'accessTokens' | 'ipFilter' | 'portForwarding'>;

/** The options merged over their defaults; throws a RangeError naming the first bad value. */
export function resolveServerOptions(options: AnweddolServerOptions): ResolvedServerOptions {
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : 1;
  const o: ResolvedServerOptions = {
    bindAddress: '0.0.0.0',
    listenPort: 6150,
    timeoutSeconds: 10,
    maxConnections: 1024,
    maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
    maxKeyLength: DEFAULT_MAX_KEY_LENGTH,
    sessions: new MemorySessionStore(),
    maxSandboxes: 6,
    destroyOnStop: true,
    createTimeoutMs: 120_000,
    warmPoolSize: 0,
    warmPoolRefillConcurrency: 2,
    warmPoolMaxAgeSeconds: null,
    ...LIFETIME_DEFAULTS,
    logger: silentLogger,
    version: packageVersion(),
    enableTcp: true,
    rsaWorkers: Math.min(4, Math.max(1, cores)),
    rsaWorkerNiceness: 0,
    clientIdKey: randomBytes(32),
    maxSandboxesPerClient: null,
    createRate: null,
    maxConnectionsPerClient: null,
    ipv6ClientPrefixLength: 64,
    ...stripUndefined(options),
    rsaKeyPair: options.rsaKeyPair,
  };
  if (!(o.timeoutSeconds > 0)) throw new RangeError('timeoutSeconds must be > 0');
  if (!Number.isInteger(o.maxConnections) || o.maxConnections < 1) throw new RangeError('maxConnections must be a positive integer');
  if (!Number.isInteger(o.maxFrameSize) || o.maxFrameSize < 64) throw new RangeError('maxFrameSize must be an integer ≥ 64');
  if (!Number.isInteger(o.maxKeyLength) || o.maxKeyLength < 256 || o.maxKeyLength > 99_999_999) throw new RangeError('maxKeyLength out of range');
  if (o.maxSandboxes !== null && (!Number.isInteger(o.maxSandboxes) || o.maxSandboxes < 0)) throw new RangeError('maxSandboxes must be an integer ≥ 0 or null');
  if (o.maxSandboxes !== null && o.warmPoolSize > o.maxSandboxes) throw new RangeError('warmPoolSize must not exceed maxSandboxes (pool sandboxes count against it)');
  if (o.clientIdKey.length < MIN_CLIENT_ID_KEY_BYTES) throw new RangeError(`clientIdKey must be at least ${MIN_CLIENT_ID_KEY_BYTES} bytes`);
  return o;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
