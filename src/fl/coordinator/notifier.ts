// Coordinator → agent notifications over HTTP: one POST per notification, bounded by a timeout and the training's abort signal.
import { encodeNotification, type Notification } from '../agent/notification.js';

export type NotifyOutcome = { delivered: true } | { delivered: false; reason: string };

export class Notifier {
  constructor(private readonly timeoutMs = 5000) {}

  /** Never throws: an unreachable or refusing agent is an outcome the caller decides about (drop or retry). */
  async send(agentUrl: string, token: string, n: Notification, signal: AbortSignal): Promise<NotifyOutcome> {
    try {
      const res = await fetch(`${agentUrl}/notifications/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(encodeNotification(n)),
        signal: AbortSignal.any([AbortSignal.timeout(this.timeoutMs), signal]),
      });
      await res.arrayBuffer();
      if (res.ok) return { delivered: true };
      return { delivered: false, reason: `agent answered ${res.status} to ${n.type}` };
    } catch (e) {
      return { delivered: false, reason: `agent unreachable for ${n.type}: ${(e as Error).message}` };
    }
  }
}
