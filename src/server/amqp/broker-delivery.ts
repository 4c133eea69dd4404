// What a broker message means to the AMQP transport: a request to serve or a poison message, its idempotency key and its client identity (pure).
import { createHash } from 'node:crypto';

/** Why a message is rejected without requeue: a closed set (a metrics label), never client input. */
export const POISON_REASONS = [
  /** The body is not JSON. */
  'not_json',
  /** No `reply_to`, or one the daemon will not answer to (too long, or the request queue itself). */
  'no_reply_to',
  /** No `correlation_id`: the answer could not be matched, and a redelivery could not be recognised. */
  'no_correlation_id',
  /** The body is over `rabbitmq.max_message_size`. */
  'too_large',
] as const;

export type PoisonReason = (typeof POISON_REASONS)[number];

/** The parts of an AMQP delivery the transport reads. */
export interface BrokerDelivery {
  body: Buffer;
  replyTo: unknown;
  correlationId: unknown;
}

export type ParsedDelivery =
  | { ok: true; request: unknown; replyTo: string; correlationId: string; key: string }
  | { ok: false; reason: PoisonReason };

/** AMQP short strings (queue names, correlation ids) are at most 255 bytes. */
const SHORT_STRING_BYTES = 255;

const shortString = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && Buffer.byteLength(value) <= SHORT_STRING_BYTES;

/** Checks size, reply address and correlation id before parsing, so a poison body is never parsed. */
export function parseDelivery(delivery: BrokerDelivery, limits: { maxMessageSize: number; requestQueue: string }): ParsedDelivery {
  if (delivery.body.length > limits.maxMessageSize) return { ok: false, reason: 'too_large' };
  // Answering into the request queue would feed the daemon its own answers.
  if (!shortString(delivery.replyTo) || delivery.replyTo === limits.requestQueue) return { ok: false, reason: 'no_reply_to' };
  if (!shortString(delivery.correlationId)) return { ok: false, reason: 'no_correlation_id' };
  let request: unknown;
  try {
    request = JSON.parse(delivery.body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not_json' };
  }
  return { ok: true, request, replyTo: delivery.replyTo, correlationId: delivery.correlationId, key: deliveryKey(delivery.replyTo, delivery.correlationId, delivery.body) };
}

/**
 * The idempotency key of a request: a redelivery carries the same reply address, correlation id and body. The reply
 * address is in it so that a stranger reusing someone's correlation id gets nothing: answers only go to `reply_to`.
 */
export function deliveryKey(replyTo: string, correlationId: string, body: Buffer): string {
  return createHash('sha256').update(replyTo).update('\0').update(correlationId).update('\0').update(body).digest('hex');
}

/** The one identity of every broker client when access tokens are off: they share the per-client limits. */
export const ANONYMOUS_BROKER_CLIENT = 'amqp:anonymous';

/**
 * Who a broker client is for the per-client limits and logs (there is no peer address): its access token, hashed,
 * when tokens are required (the dispatcher refuses a wrong one before any handler runs); otherwise one shared
 * identity, since a client could otherwise mint a fresh identity per request by changing an unchecked token.
 */
export function brokerClientAddress(request: unknown, accessTokensRequired: boolean): string {
  if (!accessTokensRequired) return ANONYMOUS_BROKER_CLIENT;
  const parameters = typeof request === 'object' && request !== null ? (request as { parameters?: unknown }).parameters : undefined;
  const token = typeof parameters === 'object' && parameters !== null ? (parameters as { access_token?: unknown }).access_token : undefined;
  if (typeof token !== 'string') return ANONYMOUS_BROKER_CLIENT;
  return `amqp:token:${createHash('sha256').update(token).digest('hex').slice(0, 32)}`;
}
