// How the coordinator reaches a training's agents (`fl.transport`): notifications out, and the per-training channel set up and torn down.
import type { AgentBrokerConfig } from '../agent/agent-config.js';
import type { Notification } from '../agent/notification.js';
import { Notifier, type NotifyOutcome } from './notifier.js';
import type { ClientState, TrainingRun } from './training-run.js';

export interface AgentTransport {
  readonly kind: 'http' | 'rabbitmq';
  /** Called once by the coordinator's start: a transport that cannot work fails the start. */
  start(): Promise<void>;
  /** Sets up a training's channel before its agents launch; returns what each client's agent config carries (by client id). */
  openTraining(run: TrainingRun): Promise<Map<string, AgentBrokerConfig>>;
  /** Never throws: an unreachable agent is an outcome the caller decides about (drop or retry). */
  notify(run: TrainingRun, client: ClientState, n: Notification, signal: AbortSignal): Promise<NotifyOutcome>;
  /** Releases what `openTraining` set up; idempotent, never throws. */
  closeTraining(run: TrainingRun): Promise<void>;
  stop(): Promise<void>;
}

/** Notifications as HTTP POSTs to each agent's own endpoint; uploads come to the coordinator's HTTP API. */
export class HttpAgentTransport implements AgentTransport {
  readonly kind = 'http' as const;
  private readonly notifier: Notifier;

  constructor(timeoutMs?: number) {
    this.notifier = new Notifier(timeoutMs);
  }

  async start(): Promise<void> {}

  async openTraining(): Promise<Map<string, AgentBrokerConfig>> {
    return new Map();
  }

  notify(_run: TrainingRun, client: ClientState, n: Notification, signal: AbortSignal): Promise<NotifyOutcome> {
    if (!client.launched) return Promise.resolve({ delivered: false, reason: 'client not launched' });
    return this.notifier.send(client.launched.agentUrl, client.token, n, signal);
  }

  async closeTraining(): Promise<void> {}

  async stop(): Promise<void> {}
}
