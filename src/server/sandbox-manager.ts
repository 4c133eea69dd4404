// Owns the sandbox lifecycle for CREATE/DESTROY/RENEW: capacity, credentials, sessions (hashes only), lifetimes, events, reconciliation.
import { constantTimeHexEqual, sha256Hex } from '../crypto/hash.js';
import { generateClientToken } from '../crypto/tokens.js';
import type { SessionRecord, SessionStore } from '../database/session-store.js';
import type { Sandbox, SandboxEndReason, VirtualizationInterface } from '../virtualization/virtualization-interface.js';
import { adminDestroy, type AdminDestroyOutcome, type DestroySelector } from './admin-destroy.js';
import { badAuthentication, refusedRequest, unavailable } from './errors.js';
import type { Logger } from '../shared/logger.js';
import { ClientCounter } from './client-limits/client-counter.js';
import type { ClientLimits } from './client-limits/client-limits.js';
import { initialExpiry, renewedExpiry, toUnixSeconds, type LifetimePolicy } from './lifetimes/lifetime-policy.js';
import { SandboxLifetimes } from './lifetimes/sandbox-lifetimes.js';
import type { SandboxCapacity } from './sandbox-capacity.js';
import type { CreatedSandboxPayload, DestroyedSandboxPayload, DestroyReason, FlSandboxMark, Refusal, ServerEvents } from './server-events.js';
import type { ServerObserver } from './server-observer.js';
import type { ClientInfo } from './types.js';
import type { SandboxForwarders } from './port-forwarding/sandbox-forwarders.js';
import { obtainSandbox } from './warm-pool/obtain-sandbox.js';
import type { WarmPool } from './warm-pool/warm-pool.js';

export interface CreatedSandbox {
  container_uuid: string;
  client_token: string;
  container_iso_sha256: string;
  container_username: string;
  container_password: string;
  container_listen_port: number;
  /** Unix seconds after which the sandbox is destroyed unless renewed; null = no lifetime limit. */
  expires_at: number | null;
}

export type { AdminDestroyOutcome, DestroyedSandbox, DestroySelector } from './admin-destroy.js';

export interface SandboxManagerOptions {
  virtualization: VirtualizationInterface | undefined;
  sessions: SessionStore;
  capacity: SandboxCapacity;
  clientLimits: ClientLimits;
  events: ServerEvents;
  logger: Logger;
  /** Bound on one sandbox creation (backend calls included), so a hung backend cannot hold a slot and a client forever. */
  createTimeoutMs: number;
  lifetime: LifetimePolicy;
  onRuntimeError(source: string, error: unknown): void;
  /** Told of capacity refusals and creation times (metrics). */
  observer?: Pick<ServerObserver, 'refused' | 'sandboxCreated'>;
  /** Ready sandboxes CREATE claims before creating one cold. */
  pool?: WarmPool;
  /** The port forwarders of sandboxes clients cannot reach on their own port (README "Port forwarding"). */
  forwarders: SandboxForwarders;
}

// A well-formed hash that matches no session, so a miss costs the same comparison as a hit.
const NO_SESSION_HASH = sha256Hex('no session');

export class SandboxManager {
  /** Sessions this process is destroying right now (their rows say 'destroying'). */
  private readonly destroying = new Set<number>();
  /** Each session's sandbox uuid (a session keeps only its hash), so destroyed_container names it however the sandbox ends. */
  private readonly uuids = new Map<string, string>();
  /** CREATEs in flight per client digest: they have no session row yet but count against max_per_client. */
  private readonly creating = new ClientCounter(null);
  private readonly endedListener = (ended: { id: string; uuid?: string; reason: SandboxEndReason }) => {
    void this.onSandboxEnded(ended.id, ended.uuid ?? null, ended.reason);
  };

  // The backend came back after an outage: sandboxes may have ended meanwhile without an event.
  private readonly availabilityListener = (available: boolean) => {
    if (!available) return;
    void this.reconcile()
      .then(() => this.lifetimes.sync())
      .catch((error) => this.options.onRuntimeError('reconcile after backend recovery', error));
  };

  private readonly lifetimes: SandboxLifetimes;

  constructor(private readonly options: SandboxManagerOptions) {
    const virtualization = options.virtualization;
    this.lifetimes = new SandboxLifetimes({
      sessions: options.sessions,
      policy: options.lifetime,
      expire: async (sessionId, reason) => (await this.destroySession(sessionId, reason)) !== undefined,
      countSshSessions: (containerId) => (virtualization === undefined ? Promise.resolve(0) : virtualization.countSshSessions(containerId)),
      isBackendAvailable: () => virtualization?.isAvailable() ?? false,
      logger: options.logger,
      onRuntimeError: options.onRuntimeError,
    });
  }

  /** Starts the backend, watches for sandboxes ending behind our back, and reconciles sessions with reality. */
  async start(): Promise<void> {
    const virtualization = this.options.virtualization;
    if (virtualization === undefined) return;
    await virtualization.start();
    virtualization.on('sandbox_ended', this.endedListener);
    virtualization.on('availability_changed', this.availabilityListener);
    await this.reconcile();
    await this.restoreForwarders(virtualization);
  }

  /** Sandboxes kept across a restart get their forwarders back; one a handler refuses is destroyed. */
  private async restoreForwarders(virtualization: VirtualizationInterface): Promise<void> {
    if (!virtualization.isAvailable()) return;
    const { sessions, forwarders } = this.options;
    const listed = await virtualization.list();
    for (const sandbox of listed) if (sessions.findByContainerId(sandbox.id) !== undefined) this.uuids.set(sandbox.id, sandbox.uuid);
    for (const id of await forwarders.restore(listed, (containerId) => sessions.findByContainerId(containerId)?.port)) {
      const session = sessions.findByContainerId(id);
      if (session !== undefined) await this.destroySession(session.id, 'vetoed');
    }
  }

  /**
   * Destroys the sandboxes already past their deadline (a restarted daemon), then enforces deadlines as they come.
   * Call once the server is listening: a start that fails (port taken by a running daemon) must not touch its sandboxes.
   */
  async enforceLifetimes(): Promise<void> {
    if (this.options.virtualization === undefined) return;
    await this.lifetimes.start();
    this.options.pool?.start();
  }

  /** STAT's `available`: CREATEs that would succeed now = free slots + ready pool sandboxes (which hold slots of their own). */
  available(): number | 'nolimit' {
    const free = withBackendLimit(this.options.capacity.available(), this.options.virtualization?.freeSlots?.());
    return free === 'nolimit' ? free : free + (this.options.pool?.statistics().ready ?? 0);
  }

  async reconcile(): Promise<{ destroyed: number; forgotten: number }> {
    const { virtualization, sessions, logger } = this.options;
    if (virtualization === undefined || !virtualization.isAvailable()) return { destroyed: 0, forgotten: 0 };
    const listedAt = Date.now();
    const owned = await virtualization.list();
    const liveIds = new Set(owned.map((s) => s.id));
    this.options.pool?.forgetMissing(liveIds);
    let destroyed = 0;
    let forgotten = 0;
    for (const sandbox of owned) {
      // A sandbox still being created (or held by an FL training) has no session yet but is not an orphan.
      if (sessions.findByContainerId(sandbox.id) !== undefined || this.options.capacity.isClaimed(sandbox.uuid)) continue;
      await virtualization.destroy(sandbox.id);
      await this.announceDestroyed({ client: null, container_id: sandbox.id, container_uuid: sandbox.uuid, reason: 'reconciled', fl: null });
      destroyed++;
    }
    for (const session of sessions.list()) {
      // A session made while the list was on its way has a container the list could not show.
      if (session.createdAt >= listedAt) continue;
      // A DESTROY cut short by a crash left its row in 'destroying': nobody can finish it but us.
      if (session.state === 'destroying' && liveIds.has(session.containerId) && !this.destroying.has(session.id)) {
        await this.discard(session.containerId, session, 'reconciled');
        await this.announceDestroyed({ client: null, container_id: session.containerId, container_uuid: null, reason: 'reconciled', fl: null });
        forgotten++;
        continue;
      }
      if (liveIds.has(session.containerId)) continue;
      this.forgetSession(session.id);
      await this.options.forwarders.stop(session.containerId, 'reconciled');
      // Its sandbox ended while nobody watched (e.g. during a backend outage): listeners still hear of it.
      await this.announceDestroyed({ client: null, container_id: session.containerId, container_uuid: null, reason: 'reconciled', fl: null });
      forgotten++;
    }
    if (destroyed + forgotten > 0) logger.info(`reconciled: ${destroyed} orphan sandbox(es) destroyed, ${forgotten} stale session(s) removed`);
    return { destroyed, forgotten };
  }

  async create(client: ClientInfo): Promise<CreatedSandbox> {
    const { virtualization, clientLimits } = this.options;
    if (virtualization === undefined) throw unavailable('no virtualization backend');
    if (!virtualization.isAvailable()) throw unavailable('virtualization backend is down');
    // Checked and claimed synchronously, so concurrent CREATEs from one client cannot all pass.
    const clientKeyDigest = clientLimits.digestOf(client.address);
    const max = clientLimits.maxSandboxesPerClient;
    if (max !== null && this.options.sessions.countByClient(clientKeyDigest) + this.creating.count(clientKeyDigest) >= max) {
      throw clientLimits.refusal('max_per_client', client);
    }
    clientLimits.takeCreateToken(client);
    const release = this.creating.tryAcquire(clientKeyDigest)!;
    try {
      return await this.createSandbox(virtualization, client, clientKeyDigest);
    } finally {
      release();
    }
  }

  private async createSandbox(virtualization: VirtualizationInterface, client: ClientInfo, clientKeyDigest: string): Promise<CreatedSandbox> {
    const { sessions } = this.options;
    const obtainStart = performance.now();
    const { sandbox: obtained, username, password, slot, source } = await obtainSandbox({ ...this.options, virtualization });
    this.options.observer?.sandboxCreated?.((performance.now() - obtainStart) / 1000, source);
    let session: SessionRecord | undefined;
    let announced = false;
    try {
      // The port the client is told: the sandbox's own, or its forwarder's (made before any container event, which carries it).
      const exposure = await this.options.forwarders.expose(obtained, client);
      if (exposure.refusal !== undefined) throw refusedRequest(exposure.refusal.reason);
      const sandbox: Sandbox = { ...obtained, port: exposure.port };
      const clientToken = generateClientToken();
      // Lifetimes and idle time start here, at claim, for a pooled sandbox as for a cold one.
      const createdAt = Date.now();
      session = sessions.insert({
        createdAt,
        containerUuidSha256: sha256Hex(sandbox.uuid),
        clientTokenSha256: sha256Hex(clientToken),
        containerId: sandbox.id,
        port: sandbox.port,
        state: 'running',
        clientKeyDigest,
        clientId: client.id,
        expiresAt: initialExpiry(createdAt, this.options.lifetime),
        // Idle from birth: the client has idle_timeout to log in.
        idleSince: this.options.lifetime.idleTimeoutMs === null ? null : createdAt,
      });
      this.uuids.set(sandbox.id, sandbox.uuid);
      slot.release();
      announced = true;
      const refusal = await this.announceCreated(createdPayload(sandbox, client, null));
      // A vetoed pool sandbox is destroyed, not returned: the vetoing hook saw its credentials.
      if (refusal !== undefined) throw refusedRequest(refusal.reason);
      this.lifetimes.track(session);
      return {
        container_uuid: sandbox.uuid,
        client_token: clientToken,
        container_iso_sha256: sandbox.imageSha256,
        container_username: username,
        container_password: password,
        container_listen_port: sandbox.port,
        expires_at: toUnixSeconds(session.expiresAt),
      };
    } catch (error) {
      // A sandbox that ended while the hooks ran was announced as ended already (its session is gone).
      const endedMeanwhile = session !== undefined && sessions.findByContainerId(session.containerId) === undefined;
      // Nothing half-made survives a failed or vetoed CREATE.
      await this.discard(obtained.id, session, 'vetoed');
      // Only a veto can fail a CREATE once announced: listeners hear the end of what they saw start.
      if (announced && !endedMeanwhile) await this.announceDestroyed({ client, container_id: obtained.id, container_uuid: obtained.uuid, reason: 'vetoed', fl: null });
      throw error;
    } finally {
      slot.release();
    }
  }

  /** DESTROY (or the undo of an undelivered CREATE, which is a DESTROY with the credentials the client never got). */
  async destroy(containerUuid: string, clientToken: string, client: ClientInfo, reason: 'destroy_request' | 'undelivered' = 'destroy_request'): Promise<void> {
    const session = this.authenticate(containerUuid, clientToken);
    if (this.options.virtualization === undefined) throw unavailable('no virtualization backend');
    // Lost a race with an expiry or an admin destroy: the sandbox is going away, as if the token were wrong.
    if ((await this.destroySession(session.id, reason, client, containerUuid)) === undefined) throw badAuthentication();
  }

  /** RENEW: a new deadline (lifetime-policy.ts), in Unix seconds; null = the sandbox has no lifetime limit. */
  renew(containerUuid: string, clientToken: string, client: ClientInfo): number | null {
    const session = this.authenticate(containerUuid, clientToken);
    const expiresAt = renewedExpiry(session, Date.now(), this.options.lifetime);
    if (expiresAt === session.expiresAt) return toUnixSeconds(expiresAt); // at the cap: nothing changes, nothing to log
    this.options.sessions.setExpiresAt(session.id, expiresAt);
    this.lifetimes.track({ ...session, expiresAt });
    const until = expiresAt === null ? 'no limit' : new Date(expiresAt).toISOString();
    this.options.logger.info(`client ${client.id}: sandbox ${session.containerId.slice(0, 12)} renewed (${until})`);
    return toUnixSeconds(expiresAt);
  }

  /** The admin's `destroy`: sessions only (FL sandboxes have their own deadlines and are never selected). */
  adminDestroy(selector: DestroySelector): Promise<AdminDestroyOutcome> {
    return adminDestroy(selector, {
      sessions: this.options.sessions,
      expireOverdue: () => this.lifetimes.expireOverdue(),
      destroySession: (sessionId, uuid) => this.destroySession(sessionId, 'admin', null, uuid),
    });
  }

  /** The running session these credentials open; Bad authentication otherwise (same cost whether the uuid exists or not). */
  private authenticate(containerUuid: string, clientToken: string): SessionRecord {
    const session = this.options.sessions.findByUuidHash(sha256Hex(containerUuid));
    const tokenMatches = constantTimeHexEqual(session?.clientTokenSha256 ?? NO_SESSION_HASH, sha256Hex(clientToken));
    if (session === undefined || !tokenMatches || session.state !== 'running') throw badAuthentication();
    return session;
  }

  /**
   * The one way a session's sandbox is destroyed on purpose (DESTROY, expiry, admin): the row says 'destroying'
   * meanwhile, then goes; the slot and port are free; `destroyed_container` tells why. Resolves undefined when
   * the session was not running (gone, or someone else is destroying it); a failed destroy leaves it running.
   */
  private async destroySession(
    sessionId: number,
    reason: DestroyReason,
    client: ClientInfo | null = null,
    containerUuid: string | null = null,
  ): Promise<SessionRecord | undefined> {
    const { virtualization, sessions } = this.options;
    const session = sessions.findById(sessionId);
    if (session === undefined || session.state !== 'running' || virtualization === undefined) return undefined;
    sessions.setState(session.id, 'destroying');
    this.destroying.add(session.id);
    this.lifetimes.untrack(session.id);
    try {
      await virtualization.destroy(session.containerId);
    } catch (error) {
      sessions.setState(session.id, 'running');
      this.lifetimes.retryLater(session.id);
      throw error;
    } finally {
      this.destroying.delete(session.id);
    }
    sessions.deleteById(session.id);
    await this.options.forwarders.stop(session.containerId, reason);
    await this.announceDestroyed({ client, container_id: session.containerId, container_uuid: containerUuid, reason, fl: null });
    return session;
  }

  /** Destroys every sandbox that has a session (server stop with destroyOnStop). */
  async destroyAll(): Promise<void> {
    const { virtualization, sessions } = this.options;
    if (virtualization === undefined) return;
    // No expiry may run beside (or after) the final sweep, and no refill may take the slots it frees.
    await this.lifetimes.stop();
    await this.options.pool?.close();
    await Promise.all(
      sessions.list().map(async (session) => {
        sessions.setState(session.id, 'destroying');
        this.destroying.add(session.id);
        await this.discard(session.containerId, session, 'server_stopped').finally(() => this.destroying.delete(session.id));
        await this.announceDestroyed({ client: null, container_id: session.containerId, container_uuid: null, reason: 'server_stopped', fl: null });
      }),
    );
  }

  /** `container_started`, then `created_container`: the first veto stops there and is returned (the caller destroys the sandbox). */
  async announceCreated(payload: CreatedSandboxPayload): Promise<Refusal | undefined> {
    for (const event of ['container_started', 'created_container'] as const) {
      const { refusal } = await this.options.events.emit(event, payload);
      if (refusal !== undefined) return refusal;
    }
    return undefined;
  }

  async announceDestroyed(payload: DestroyedSandboxPayload): Promise<void> {
    const containerUuid = payload.container_uuid ?? this.uuids.get(payload.container_id) ?? null;
    this.uuids.delete(payload.container_id);
    // A slot came free: the pool may take it back.
    this.options.pool?.refill();
    await this.options.events.emit('destroyed_container', { ...payload, container_uuid: containerUuid });
  }

  async close(): Promise<void> {
    await this.lifetimes.stop();
    // Sandboxes kept across a restart (destroy_on_stop: false) get their forwarders back at the next start.
    await this.options.forwarders.stopAll('server_stopped');
    await this.options.pool?.close();
    const virtualization = this.options.virtualization;
    if (virtualization === undefined) return;
    virtualization.off('sandbox_ended', this.endedListener);
    virtualization.off('availability_changed', this.availabilityListener);
    await virtualization.close();
  }

  private async onSandboxEnded(containerId: string, containerUuid: string | null, reason: SandboxEndReason): Promise<void> {
    const { sessions, logger, pool } = this.options;
    if (pool?.forgetEnded(containerId) === true) return;
    const session = sessions.findByContainerId(containerId);
    // A sandbox we are destroying ourselves is accounted for by DESTROY.
    if (session === undefined || session.state === 'destroying') return;
    this.forgetSession(session.id);
    await this.options.forwarders.stop(containerId, reason);
    logger.info(`sandbox ${containerId.slice(0, 12)} ended (${reason}); session removed`);
    await this.announceDestroyed({ client: null, container_id: containerId, container_uuid: containerUuid, reason, fl: null });
  }

  private async discard(containerId: string, session: SessionRecord | undefined, reason: DestroyReason): Promise<void> {
    try {
      await this.options.virtualization?.destroy(containerId);
    } catch (error) {
      this.options.onRuntimeError(`destroy ${containerId.slice(0, 12)}`, error);
    } finally {
      if (session !== undefined) this.forgetSession(session.id);
      await this.options.forwarders.stop(containerId, reason);
    }
  }

  private forgetSession(sessionId: number): void {
    this.options.sessions.deleteById(sessionId);
    this.lifetimes.untrack(sessionId);
  }
}

/** Free slots under both limits: the server's and the backend's own (a swarm's nodes); ready pool sandboxes are placed already. */
export function withBackendLimit(free: number | 'nolimit', backendFree: number | undefined): number | 'nolimit' {
  if (backendFree === undefined) return free;
  return free === 'nolimit' ? backendFree : Math.min(free, backendFree);
}

/** The payload of `container_started` / `created_container` for a sandbox (a client's, or an FL training's with `fl`). */
export function createdPayload(sandbox: Sandbox, client: ClientInfo | null, fl: FlSandboxMark | null): CreatedSandboxPayload {
  return {
    client,
    container_id: sandbox.id,
    container_uuid: sandbox.uuid,
    container_listen_port: sandbox.port,
    container_iso_sha256: sandbox.imageSha256,
    container_ip_address: sandbox.ipAddress ?? null,
    fl,
  };
}
