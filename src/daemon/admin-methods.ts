// The daemon's own admin methods: `status` (liveness, listeners) and `stat` (sessions, containers, counters).
import type { RsaKeyPair } from '../crypto/rsa-key-pair.js';
import type { SessionStore } from '../database/session-store.js';
import type { AnweddolServer } from '../server/anweddol-server.js';
import type { VirtualizationInterface } from '../virtualization/virtualization-interface.js';
import { packageVersion } from '../shared/package-info.js';
import type { AdminRouter } from './admin-channel.js';
import type { ListenerInfo } from './daemon.js';

export interface AdminMethodsContext {
  server: AnweddolServer;
  sessions: SessionStore;
  virtualization: VirtualizationInterface;
  listeners(): ListenerInfo[];
  rsaKeyPair: RsaKeyPair;
}

export function registerAdminMethods(admin: AdminRouter, ctx: AdminMethodsContext): void {
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
      refused_by_client_limit: stats.clientLimitRefusals,
    };
  });
}
