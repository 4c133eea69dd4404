// Owns the sandbox lifecycle for CREATE/DESTROY: capacity, credentials, sessions (hashes only), events, reconciliation.
import { constantTimeHexEqual, sha256Hex } from '../crypto/hash.js';
import { generateClientToken, generateSshPassword, generateUsername, generateUuid } from '../crypto/tokens.js';
import type { SessionRecord, SessionStore } from '../database/session-store.js';
import type { Sandbox, SandboxEndReason, VirtualizationInterface } from '../virtualization/virtualization-interface.js';
import { badAuthentication, refusedRequest, unavailable } from './errors.js';
import type { Logger } from '../shared/logger.js';
import type { SandboxCapacity } from './sandbox-capacity.js';
import type { ServerEvents } from './server-events.js';
import type { ClientInfo } from './types.js';

export interface CreatedSandbox {
  container_uuid: string;
  client_token: string;
  container_iso_sha256: string;
  container_username: string;
  container_password: string;
  container_listen_port: number;
}

export interface SandboxManagerOptions {
  virtualization: VirtualizationInterface | undefined;
  sessions: SessionStore;
  capacity: SandboxCapacity;
  events: ServerEvents;
  logger: Logger;
  /** Bound on one sandbox creation (backend calls included), so a hung backend cannot hold a slot and a client forever. */
  createTimeoutMs: number;
  onRuntimeError(source: string, error: unknown): void;
}

// A well-formed hash that matches no session, so a miss costs the same comparison as a hit.
const NO_SESSION_HASH = sha256Hex('no session');

export class SandboxManager {
  /** Sessions this process is destroying right now (their rows say 'destroying'). */
  private readonly destroying = new Set<number>();
  private readonly endedListener = (ended: { id: string; reason: SandboxEndReason }) => {
    void this.onSandboxEnded(ended.id, ended.reason);
  };

  // The backend came back after an outage: sandboxes may have ended meanwhile without an event.
  private readonly availabilityListener = (available: boolean) => {
    if (available) void this.reconcile().catch((error) => this.options.onRuntimeError('reconcile after backend recovery', error));
  };

  constructor(private readonly options: SandboxManagerOptions) {}

  /** Starts the backend, watches for sandboxes ending behind our back, and reconciles sessions with reality. */
  async start(): Promise<void> {
    const virtualization = this.options.virtualization;
    if (virtualization === undefined) return;
    await virtualization.start();
    virtualization.on('sandbox_ended', this.endedListener);
    virtualization.on('availability_changed', this.availabilityListener);
    await this.reconcile();
  }

  async reconcile(): Promise<{ destroyed: number; forgotten: number }> {
    const { virtualization, sessions, logger } = this.options;
    if (virtualization === undefined || !virtualization.isAvailable()) return { destroyed: 0, forgotten: 0 };
    const listedAt = Date.now();
    const owned = await virtualization.list();
    const liveIds = new Set(owned.map((s) => s.id));
    let destroyed = 0;
    let forgotten = 0;
    for (const sandbox of owned) {
      // A sandbox still being created (or held by an FL training) has no session yet but is not an orphan.
      if (sessions.findByContainerId(sandbox.id) !== undefined || this.options.capacity.isClaimed(sandbox.uuid)) continue;
      await virtualization.destroy(sandbox.id);
      destroyed++;
    }
    for (const session of sessions.list()) {
      // A session made while the list was on its way has a container the list could not show.
      if (session.createdAt >= listedAt) continue;
      // A DESTROY cut short by a crash left its row in 'destroying': nobody can finish it but us.
      if (session.state === 'destroying' && liveIds.has(session.containerId) && !this.destroying.has(session.id)) {
        await this.discard(session.containerId, session);
        forgotten++;
        continue;
      }
      if (liveIds.has(session.containerId)) continue;
      sessions.deleteById(session.id);
      forgotten++;
    }
    if (destroyed + forgotten > 0) logger.info(`reconciled: ${destroyed} orphan sandbox(es) destroyed, ${forgotten} stale session(s) removed`);
    return { destroyed, forgotten };
  }

  async create(client: ClientInfo): Promise<CreatedSandbox> {
    const { virtualization, sessions, capacity, events } = this.options;
    if (virtualization === undefined) throw unavailable('no virtualization backend');
    if (!virtualization.isAvailable()) throw unavailable('virtualization backend is down');
    const containerUuid = generateUuid();
    const slot = capacity.tryReserve(containerUuid);
    if (slot === undefined) throw unavailable('Maximum number of sandboxes reached');
    let sandbox: Sandbox | undefined;
    let session: SessionRecord | undefined;
    try {
      const clientToken = generateClientToken();
      const username = generateUsername();
      const password = generateSshPassword();
      const timeout = AbortSignal.timeout(this.options.createTimeoutMs);
      sandbox = await virtualization.create({ uuid: containerUuid, username, password }, timeout).catch((error: unknown) => {
        throw timeout.aborted ? unavailable('sandbox creation timed out') : error;
      });
      session = sessions.insert({
        createdAt: Date.now(),
        containerUuidSha256: sha256Hex(containerUuid),
        clientTokenSha256: sha256Hex(clientToken),
        containerId: sandbox.id,
        port: sandbox.port,
        state: 'running',
      });
      slot.release();
      const payload = { client, sandbox, containerUuid };
      await events.emit('container_started', payload);
      const created = await events.emit('created_container', payload);
      if (created.refusal !== undefined) throw refusedRequest(created.refusal.reason);
      return {
        container_uuid: containerUuid,
        client_token: clientToken,
        container_iso_sha256: sandbox.imageSha256,
        container_username: username,
        container_password: password,
        container_listen_port: sandbox.port,
      };
    } catch (error) {
      // Nothing half-made survives a failed or vetoed CREATE.
      if (sandbox !== undefined) await this.discard(sandbox.id, session);
      throw error;
    } finally {
      slot.release();
    }
  }

  async destroy(containerUuid: string, clientToken: string, client: ClientInfo): Promise<void> {
    const { virtualization, sessions, events } = this.options;
    const session = sessions.findByUuidHash(sha256Hex(containerUuid));
    const tokenMatches = constantTimeHexEqual(session?.clientTokenSha256 ?? NO_SESSION_HASH, sha256Hex(clientToken));
    if (session === undefined || !tokenMatches || session.state !== 'running') throw badAuthentication();
    if (virtualization === undefined) throw unavailable('no virtualization backend');
    sessions.setState(session.id, 'destroying');
    this.destroying.add(session.id);
    try {
      await virtualization.destroy(session.containerId);
    } catch (error) {
      sessions.setState(session.id, 'running');
      throw error;
    } finally {
      this.destroying.delete(session.id);
    }
    sessions.deleteById(session.id);
    await events.emit('destroyed_container', { client, containerId: session.containerId });
  }

  /** Destroys every sandbox that has a session (server stop with destroyOnStop). */
  async destroyAll(): Promise<void> {
    const { virtualization, sessions } = this.options;
    if (virtualization === undefined) return;
    await Promise.all(
      sessions.list().map(async (session) => {
        sessions.setState(session.id, 'destroying');
        this.destroying.add(session.id);
        await this.discard(session.containerId, session).finally(() => this.destroying.delete(session.id));
      }),
    );
  }

  async close(): Promise<void> {
    const virtualization = this.options.virtualization;
    if (virtualization === undefined) return;
    virtualization.off('sandbox_ended', this.endedListener);
    virtualization.off('availability_changed', this.availabilityListener);
    await virtualization.close();
  }

  private async onSandboxEnded(containerId: string, reason: SandboxEndReason): Promise<void> {
    const { sessions, events, logger } = this.options;
    const session = sessions.findByContainerId(containerId);
    // A sandbox we are destroying ourselves is accounted for by DESTROY.
    if (session === undefined || session.state === 'destroying') return;
    sessions.deleteById(session.id);
    logger.info(`sandbox ${containerId.slice(0, 12)} ended (${reason}); session removed`);
    await events.emit('container_stopped', { containerId, reason });
  }

  private async discard(containerId: string, session: SessionRecord | undefined): Promise<void> {
    try {
      await this.options.virtualization?.destroy(containerId);
    } catch (error) {
      this.options.onRuntimeError(`destroy ${containerId.slice(0, 12)}`, error);
    } finally {
      if (session !== undefined) this.options.sessions.deleteById(session.id);
    }
  }
}
