// The daemon's Prometheus series: one registry, every metric made once here, fed by server events and the server observer.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { POISON_REASONS, type PoisonReason } from '../../server/amqp/broker-delivery.js';
import type { AnweddolServer } from '../../server/anweddol-server.js';
import type { EventHandler } from '../../server/server-events.js';
import { REFUSAL_REASONS, RESPONSE_CLASSES, type RefusalReason, type ServerObserver } from '../../server/server-observer.js';
import type { ClientInfo } from '../../server/types.js';

/** Sandbox states of `anweddol_sandboxes`: client and FL sandboxes, and warm ones ready to be claimed. */
export const SANDBOX_STATES = ['running', 'pool'] as const;

// Training ids are the coordinator's uuids; anything else is not allowed near a label.
const TRAINING_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Subscription = [event: string, handler: EventHandler<Record<string, unknown>>];

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'verb' | 'result' | 'transport'>;
  private readonly handshake: Histogram;
  private readonly sandboxCreate: Histogram<'source'>;
  private readonly refusals: Counter<'reason'>;
  private readonly poisonMessages: Counter<'reason'>;
  private readonly flRounds: Counter;
  private readonly flRoundSeconds: Histogram;
  private readonly flAccuracy: Gauge<'training'>;
  /** Clients between `connection_accepted` and `client_closed`, on every transport (TCP's own count misses REST). */
  private readonly openClients = new Set<ClientInfo>();
  /** FL sandboxes alive (client sandboxes are the server's sessions). */
  private readonly flSandboxes = new Set<string>();
  private readonly subscriptions: Subscription[];
  private readonly unobserve: () => void;

  constructor(private readonly server: AnweddolServer) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'anweddol_requests_total', help: 'Requests answered, by verb (known verbs, else other), response class and transport', labelNames: ['verb', 'result', 'transport'], registers });
    this.handshake = new Histogram({ name: 'anweddol_handshake_seconds', help: 'Duration of the TCP key exchange', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers });
    this.sandboxCreate = new Histogram({ name: 'anweddol_sandbox_create_seconds', help: 'Time to make a CREATE sandbox ready, by source (cold or pool)', labelNames: ['source'], buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120], registers });
    this.refusals = new Counter({ name: 'anweddol_refusals_total', help: 'Clients or requests turned away, by reason', labelNames: ['reason'], registers });
    this.poisonMessages = new Counter({ name: 'anweddol_amqp_poison_messages_total', help: 'Broker messages rejected without requeue, by reason', labelNames: ['reason'], registers });
    this.flRounds = new Counter({ name: 'anweddol_fl_rounds_total', help: 'FL rounds completed', registers });
    this.flRoundSeconds = new Histogram({ name: 'anweddol_fl_round_seconds', help: 'Duration of an FL round', buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers });
    this.flAccuracy = new Gauge({ name: 'anweddol_fl_accuracy', help: 'Test accuracy of the global model after the last round, per running training', labelNames: ['training'], registers });
    // collect() runs with the metric as `this`: the sets it reads are captured here.
    const { flSandboxes, openClients } = this;
    new Gauge({
      name: 'anweddol_sandboxes',
      help: 'Sandboxes by state',
      labelNames: ['state'],
      registers,
      collect() {
        this.set({ state: 'running' }, server.getRuntimeStatistics().sessions + flSandboxes.size);
        this.set({ state: 'pool' }, server.getRuntimeStatistics().warmPool.ready);
      },
    });
    new Gauge({
      name: 'anweddol_capacity',
      help: 'Maximum number of sandboxes (+Inf without a limit)',
      registers,
      collect() {
        this.set(server.options.maxSandboxes ?? Number.POSITIVE_INFINITY);
      },
    });
    new Gauge({
      name: 'anweddol_connections_active',
      help: 'Clients connected (TCP connections and REST requests in progress)',
      registers,
      collect() {
        this.set(openClients.size);
      },
    });
    new Counter({
      name: 'anweddol_runtime_errors_total',
      help: 'Runtime errors since the server started',
      registers,
      collect() {
        // The server's own count is the truth (it includes errors no event announced).
        this.reset();
        this.inc(server.getRuntimeStatistics().runtimeErrors);
      },
    });
    // Every refusal reason and the cold creation histogram show from the first scrape, so dashboards need no absent() tricks.
    for (const reason of REFUSAL_REASONS) this.refusals.inc({ reason }, 0);
    for (const reason of POISON_REASONS) this.poisonMessages.inc({ reason }, 0);
    this.sandboxCreate.zero({ source: 'cold' });

    this.unobserve = server.observe(this.observer());
    this.subscriptions = [
      ['connection_accepted', ({ client }) => void this.openClients.add(client as ClientInfo)],
      ['client_closed', ({ client }) => void this.openClients.delete(client as ClientInfo)],
      ['created_container', ({ fl, container_id }) => void (fl !== null && this.flSandboxes.add(String(container_id)))],
      ['destroyed_container', ({ container_id }) => void this.flSandboxes.delete(String(container_id))],
      ['fl_round_completed', (payload) => this.roundCompleted(payload)],
      ['fl_training_finished', ({ training_uuid }) => typeof training_uuid === 'string' && this.flAccuracy.remove({ training: training_uuid })],
    ];
    for (const [event, handler] of this.subscriptions) server.on(event, handler);
  }

  /** The text exposition format (and its content type). */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Stops counting: unsubscribes from the server and drops the registry's series. */
  close(): void {
    this.unobserve();
    for (const [event, handler] of this.subscriptions) this.server.off(event, handler as EventHandler<never>);
    this.registry.clear();
  }

  private observer(): ServerObserver {
    return {
      requestAnswered: ({ verb, result, transport }) => this.requests.inc({ verb, result: RESPONSE_CLASSES.includes(result) ? result : 'Internal error', transport }),
      handshakeCompleted: (seconds) => this.handshake.observe(seconds),
      refused: (reason: RefusalReason) => this.refusals.inc({ reason: REFUSAL_REASONS.includes(reason) ? reason : 'other' }),
      sandboxCreated: (seconds, source) => this.sandboxCreate.observe({ source }, seconds),
      poisonMessage: (reason: PoisonReason) => POISON_REASONS.includes(reason) && this.poisonMessages.inc({ reason }),
    };
  }

  private roundCompleted(payload: Record<string, unknown>): void {
    this.flRounds.inc();
    const { training_uuid: training, duration_ms: durationMs, accuracy } = payload;
    if (typeof durationMs === 'number') this.flRoundSeconds.observe(durationMs / 1000);
    if (typeof training === 'string' && TRAINING_UUID.test(training) && typeof accuracy === 'number') this.flAccuracy.set({ training }, accuracy);
  }
}
