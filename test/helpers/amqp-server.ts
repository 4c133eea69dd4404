// Test fixture: an AnweddolServer whose AMQP transport consumes from a test broker, and clients for it.
import { randomBytes } from 'node:crypto';
import { AnweddolAmqpClient, type AnweddolAmqpClientOptions } from '../../src/client/amqp-client.js';
import { AmqpTransport, type AmqpTransportOptions } from '../../src/server/amqp/amqp-transport.js';
import type { AnweddolServer } from '../../src/server/anweddol-server.js';

/** A queue name unique to one test, so tests sharing a broker never take each other's requests. */
export function uniqueQueue(name: string): string {
  return `anweddol.test.${name}.${randomBytes(4).toString('hex')}`;
}

/** An AMQP transport for `server` on `queue`, with test-sized timings; add it before server.start(). */
export function amqpTransportFor(
  server: AnweddolServer,
  url: string,
  queue: string,
  options: Partial<Omit<AmqpTransportOptions, 'server' | 'url' | 'queue'>> = {},
): AmqpTransport {
  return new AmqpTransport({ server, url, queue, prefetch: 8, maxMessageSize: 65536, reconnectDelayMs: { initial: 200, max: 1000 }, stopGraceMs: 5000, ...options });
}

/** Opens a client on `queue`; the caller closes it. */
export function amqpClient(url: string, queue: string, options: Partial<AnweddolAmqpClientOptions> = {}): Promise<AnweddolAmqpClient> {
  return AnweddolAmqpClient.connect({ url, queue, timeoutMs: 30_000, ...options });
}
