// The administrator's `destroy`: the client sandboxes a selector names, each destroyed on its own, with what became of it.
import { sha256Hex } from '../crypto/hash.js';
import type { SessionRecord, SessionStore } from '../database/session-store.js';
import type { ExpiredSandbox } from './lifetimes/sandbox-lifetimes.js';
import type { DestroyReason } from './server-events.js';

/** Which sandboxes an administrator destroys: one (by the uuid its client got), a client's, the overdue ones, or all. */
export type DestroySelector = { uuid: string } | { sessionId: number } | { clientId: string } | { expired: true } | { all: true };

/** A destroyed sandbox as the admin sees it: no credential, not even hashed. */
export interface DestroyedSandbox {
  sessionId: number;
  containerId: string;
  port: number;
  clientId: string;
  reason: DestroyReason;
}

export interface AdminDestroyOutcome {
  destroyed: DestroyedSandbox[];
  failed: Array<{ sessionId: number; containerId: string; error: string }>;
}

export interface AdminDestroyContext {
  sessions: SessionStore;
  /** Destroys the sandboxes past their deadline (the lifetimes' own sweep). */
  expireOverdue(): Promise<ExpiredSandbox[]>;
  /** The manager's one way to destroy a session's sandbox (reason `admin`); undefined when it was not running. */
  destroySession(sessionId: number, containerUuid: string | null): Promise<SessionRecord | undefined>;
}

/** Sessions only: FL sandboxes have their own deadlines and are never selected. A failure is reported, the others go on. */
export async function adminDestroy(selector: DestroySelector, context: AdminDestroyContext): Promise<AdminDestroyOutcome> {
  const outcome: AdminDestroyOutcome = { destroyed: [], failed: [] };
  if ('expired' in selector) {
    for (const { session, reason } of await context.expireOverdue()) outcome.destroyed.push(describeDestroyed(session, reason));
    return outcome;
  }
  const { sessions } = context;
  const selected =
    'uuid' in selector
      ? [sessions.findByUuidHash(sha256Hex(selector.uuid))].filter((s) => s !== undefined)
      : 'sessionId' in selector
        ? [sessions.findById(selector.sessionId)].filter((s) => s !== undefined)
        : sessions.list().filter((s) => 'all' in selector || s.clientId === selector.clientId);
  await Promise.all(
    selected.map(async (session) => {
      try {
        const destroyed = await context.destroySession(session.id, 'uuid' in selector ? selector.uuid : null);
        if (destroyed !== undefined) outcome.destroyed.push(describeDestroyed(destroyed, 'admin'));
      } catch (error) {
        outcome.failed.push({ sessionId: session.id, containerId: session.containerId.slice(0, 12), error: error instanceof Error ? error.message : String(error) });
      }
    }),
  );
  outcome.destroyed.sort((a, b) => a.sessionId - b.sessionId);
  return outcome;
}

function describeDestroyed(session: SessionRecord, reason: DestroyReason): DestroyedSandbox {
  return { sessionId: session.id, containerId: session.containerId.slice(0, 12), port: session.port, clientId: session.clientId, reason };
}
