// The daemon's own admin methods: `status` (liveness, listeners), `stat` (sessions, containers, counters) and `destroy`.
import type { RsaKeyPair } from '../crypto/rsa-key-pair.js';
import type { SessionStore } from '../database/session-store.js';
import type { AnweddolServer } from '../server/anweddol-server.js';
import type { DestroyedSandbox, DestroySelector } from '../server/sandbox-manager.js';
import type { VirtualizationInterface } from '../virtualization/virtualization-interface.js';
import { packageVersion } from '../shared/package-info.js';
import { AdminError, type AdminRouter } from './admin-channel.js';
import type { ListenerInfo } from './daemon.js';

export interface AdminMethodsContext {
  server: AnweddolServer;
  sessions: SessionStore;
  virtualization: VirtualizationInterface;
  listeners(): ListenerInfo[];
  rsaKeyPair: RsaKeyPair;
}

export function registerAdminMethods(admin: AdminRouter, ctx: AdminMethodsContext): void {
  registerDestroyMethod(admin, ctx.server);
  admin.register('status', () => {
    const stats = ctx.server.getRuntimeStatistics();
    return {
      running: stats.isRunning,
      pid: process.pid,
      version: packageVersion(),
      uptime: stats.uptime,
      listeners: ctx.listeners(),
      sandboxes: stats.sessions,
      available: stats.availableContainers,
      pool: stats.warmPool,
      backend: { name: ctx.virtualization.name, available: ctx.virtualization.isAvailable() },
      rsa_fingerprint: ctx.rsaKeyPair.fingerprint,
    };
  });

  admin.register('stat', async () => {
    const stats = ctx.server.getRuntimeStatistics();
    const now = Date.now();
    // Only non-secret facts: the container uuid and client token are credentials and never leave the server.
    const sessions = ctx.sessions.list().map((s) => ({
      id: s.id,
      age_seconds: Math.max(0, Math.floor((now - s.createdAt) / 1000)),
      port: s.port,
      state: s.state,
      container_id: s.containerId.slice(0, 12),
      client_id: s.clientId,
      expires_at: s.expiresAt === null ? null : Math.floor(s.expiresAt / 1000),
      idle_since: s.idleSince === null ? null : Math.floor(s.idleSince / 1000),
    }));
    const containers = ctx.virtualization.isAvailable()
      ? (await ctx.virtualization.list()).map((c) => ({ id: c.id.slice(0, 12), port: c.port, image_sha256: c.imageSha256 }))
      : [];
    return {
      uptime: stats.uptime,
      sessions,
      containers,
      backend_available: ctx.virtualization.isAvailable(),
      runtime_errors: stats.runtimeErrors,
      connections_served: stats.connectionsServed,
      active_connections: stats.activeConnections,
      available: stats.availableContainers,
      pool: stats.warmPool,
      refused_by_client_limit: stats.clientLimitRefusals,
      poison_messages: stats.poisonMessages,
    };
  });
}

/** What `destroy` answers per sandbox: ids and port, never a credential. */
function describe(sandbox: DestroyedSandbox): Record<string, unknown> {
  return { session_id: sandbox.sessionId, container_id: sandbox.containerId, port: sandbox.port, client_id: sandbox.clientId, reason: sandbox.reason };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CLIENT_ID = /^[0-9A-Za-z_-]{1,128}$/;

/** Exactly one of `uuid`, `session_id` (as `stat` lists it; the dashboard's button), `client_id`, `expired: true`, `all: true`. */
export function destroySelector(params: Record<string, unknown>): DestroySelector {
  const given = ['uuid', 'session_id', 'client_id', 'expired', 'all'].filter((key) => params[key] !== undefined && params[key] !== false);
  if (given.length !== 1) throw new AdminError('destroy needs exactly one of uuid, session_id, client_id, expired, all');
  const { uuid, session_id: sessionId, client_id: clientId, expired, all } = params;
  if (expired !== undefined || all !== undefined) {
    if (expired !== true && all !== true) throw new AdminError('expired and all take true');
    return expired === true ? { expired: true } : { all: true };
  }
  if (uuid !== undefined) {
    if (typeof uuid !== 'string' || !UUID.test(uuid)) throw new AdminError('uuid must be a lowercase UUID (the container_uuid the client got)');
    return { uuid };
  }
  if (sessionId !== undefined) {
    if (typeof sessionId !== 'number' || !Number.isSafeInteger(sessionId) || sessionId < 1) throw new AdminError('session_id must be a session id (a positive integer, as stat lists it)');
    return { sessionId };
  }
  if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) throw new AdminError('client_id must be a client id as logs and stat show it');
  return { clientId };
}

export function registerDestroyMethod(admin: AdminRouter, server: AnweddolServer): void {
  admin.register('destroy', async (params) => {
    const selector = destroySelector(params);
    const outcome = await server.destroySandboxes(selector);
    const nothing = outcome.destroyed.length === 0 && outcome.failed.length === 0;
    // A named target that does not exist is an error; "whatever is expired" or "all" may well be nothing.
    if (nothing && 'uuid' in selector) throw new AdminError('no sandbox with this uuid');
    if (nothing && 'sessionId' in selector) throw new AdminError(`no running session ${selector.sessionId}`);
    if (nothing && 'clientId' in selector) throw new AdminError(`no sandbox of client ${selector.clientId}`);
    return { destroyed: outcome.destroyed.map(describe), failed: outcome.failed.map((f) => ({ session_id: f.sessionId, container_id: f.containerId, error: f.error })) };
  });
}
