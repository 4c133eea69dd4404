// What the dashboard hears from the server: live events for its SSE stream (stripped to non-secret fields), request and refusal rates, and each training's last per-client metrics.
import type { AnweddolServer } from '../../server/anweddol-server.js';
import type { EventHandler } from '../../server/server-events.js';

/** Server events the dashboard pages refresh on. */
const LIVE_EVENTS = [
  'created_container',
  'destroyed_container',
  'fl_training_started',
  'fl_round_completed',
  'fl_client_dropped',
  'fl_training_finished',
] as const;

/** The only payload fields an event may carry to a browser: never a container uuid, token or client address. */
const PUBLIC_FIELDS = ['training_uuid', 'round', 'accuracy', 'loss', 'clients', 'status', 'reason', 'client_id'] as const;

const RATE_WINDOW_MS = 60_000;
/** Per-client metrics kept for this many trainings (the newest). */
const KEPT_TRAININGS = 20;

export type LiveEvent = { event: string; data: Record<string, unknown> };
type Subscriber = (event: LiveEvent) => void;

export class DashboardEvents {
  private readonly subscribers = new Set<Subscriber>();
  private readonly requests: number[] = [];
  private readonly refusals: number[] = [];
  private readonly clientMetrics = new Map<string, { round: number; metrics: unknown }>();
  private readonly handlers: Array<[string, EventHandler<Record<string, unknown>>]>;
  private readonly unobserve: () => void;

  constructor(
    private readonly server: AnweddolServer,
    private readonly now: () => number = Date.now,
  ) {
    this.handlers = LIVE_EVENTS.map((event) => [event, (payload) => this.publish(event, payload)]);
    for (const [event, handler] of this.handlers) server.on(event, handler);
    this.unobserve = server.observe({
      requestAnswered: () => this.record(this.requests),
      refused: () => this.record(this.refusals),
    });
  }

  subscribe(subscriber: Subscriber): () => void {
    this.subscribers.add(subscriber);
    return () => void this.subscribers.delete(subscriber);
  }

  /** Requests answered and refusals in the last minute. */
  ratesPerMinute(): { requests: number; refusals: number } {
    return { requests: this.recent(this.requests), refusals: this.recent(this.refusals) };
  }

  /** The test metrics each client reported in the training's last round (memory only: empty after a restart). */
  lastClientMetrics(training: string): { round: number; metrics: unknown } | undefined {
    return this.clientMetrics.get(training);
  }

  close(): void {
    this.unobserve();
    for (const [event, handler] of this.handlers) this.server.off(event, handler as EventHandler<never>);
    this.subscribers.clear();
  }

  private publish(event: string, payload: Record<string, unknown>): void {
    if (event === 'fl_round_completed' && typeof payload.training_uuid === 'string') this.keepClientMetrics(payload.training_uuid, payload);
    const data = Object.fromEntries(PUBLIC_FIELDS.filter((f) => payload[f] !== undefined).map((f) => [f, payload[f]]));
    for (const subscriber of this.subscribers) subscriber({ event, data });
  }

  private keepClientMetrics(training: string, payload: Record<string, unknown>): void {
    this.clientMetrics.delete(training);
    this.clientMetrics.set(training, { round: Number(payload.round), metrics: payload.client_metrics ?? {} });
    for (const old of this.clientMetrics.keys()) {
      if (this.clientMetrics.size <= KEPT_TRAININGS) break;
      this.clientMetrics.delete(old);
    }
  }

  private record(times: number[]): void {
    times.push(this.now());
    this.recent(times);
  }

  /** Drops timestamps older than the window and counts the rest. */
  private recent(times: number[]): number {
    const since = this.now() - RATE_WINDOW_MS;
    while (times.length > 0 && times[0]! < since) times.shift();
    return times.length;
  }
}
