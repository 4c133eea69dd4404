// What the server reports to observers (metrics) beyond its events: closed-set outcomes, never client input, addresses or secrets.
import type { Logger } from '../shared/logger.js';
import type { PoisonReason } from './amqp/broker-delivery.js';
import type { AnweddolFailure } from './errors.js';
import type { Transport } from './types.js';

/**
 * Why the server turned a client away: the one closed list of refusal reasons (a metrics label).
 * A new policy adds its reason here and calls `ServerObserver.refused` where it refuses.
 */
export const REFUSAL_REASONS = [
  /** The IP filter denied the peer. */
  'ip_filter',
  /** A browser page of an origin not in `web_server.allowed_origins` called the REST interface. */
  'origin',
  /** The dashboard's CSRF rules turned an action away (cross-site, or not a JSON POST). */
  'csrf',
  /** The TCP listener was at `maxConnections`. */
  'connection_cap',
  /** An event hook refused (connection, client, request, sandbox). */
  'vetoed',
  /** Access tokens are required and the request had none or a wrong one. */
  'access_token',
  /** CREATE found no free sandbox slot. */
  'capacity',
  /** The per-client limits (`ClientLimitName`, named after their config keys). */
  'max_per_client',
  'create_rate',
  'max_connections_per_client',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The class of a response: its message without the parenthesised reason (docs/protocol.md §2.2). */
export type ResponseClass = 'OK' | AnweddolFailure;

export const RESPONSE_CLASSES: readonly ResponseClass[] = ['OK', 'Bad authentication', 'Bad request', 'Refused request', 'Unavailable', 'Internal error'];

/** Where a sandbox came from: made for the request (`cold`) or taken from a warm pool (`pool`). */
export type SandboxSource = 'cold' | 'pool';

/** A request answered by the dispatcher, labelled from closed sets only. */
export interface AnsweredRequest {
  /** A verb with a handler (built-in or registered), else `other`: a client cannot invent label values. */
  verb: string;
  result: ResponseClass;
  transport: Transport;
}

export interface ServerObserver {
  requestAnswered?(request: AnsweredRequest): void;
  /** A TCP key exchange finished, this long after the connection was accepted. */
  handshakeCompleted?(seconds: number): void;
  refused?(reason: RefusalReason): void;
  /** A CREATE's sandbox is up (backend creation and readiness). */
  sandboxCreated?(seconds: number, source: SandboxSource): void;
  /** A broker message was rejected without requeue (docs: README "RabbitMQ interface"). */
  poisonMessage?(reason: PoisonReason): void;
}

/** The class of a protocol message; a message outside the protocol's set (never produced: responses are validated) is `Internal error`. */
export function responseClass(message: string): ResponseClass {
  const head = message.split(' (', 1)[0] as ResponseClass;
  return RESPONSE_CLASSES.includes(head) ? head : 'Internal error';
}

/** Fans each report out to every observer; a throwing observer is logged and never breaks serving. */
export class ObserverSet implements Required<ServerObserver> {
  private readonly observers = new Set<ServerObserver>();

  constructor(private readonly logger: Logger) {}

  add(observer: ServerObserver): () => void {
    this.observers.add(observer);
    return () => void this.observers.delete(observer);
  }

  requestAnswered(request: AnsweredRequest): void {
    this.each((o) => o.requestAnswered?.(request));
  }

  handshakeCompleted(seconds: number): void {
    this.each((o) => o.handshakeCompleted?.(seconds));
  }

  refused(reason: RefusalReason): void {
    this.each((o) => o.refused?.(reason));
  }

  sandboxCreated(seconds: number, source: SandboxSource): void {
    this.each((o) => o.sandboxCreated?.(seconds, source));
  }

  poisonMessage(reason: PoisonReason): void {
    this.each((o) => o.poisonMessage?.(reason));
  }

  private each(report: (observer: ServerObserver) => void): void {
    for (const observer of this.observers) {
      try {
        report(observer);
      } catch (error) {
        this.logger.error(`server observer failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
