// Builds the RabbitMQ transport from `rabbitmq.*` (README "RabbitMQ interface"), TLS files read here so a missing one stops the start.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { AmqpTransport } from '../server/amqp/amqp-transport.js';
import type { AnweddolServer } from '../server/anweddol-server.js';
import type { Logger } from '../shared/logger.js';
import type { AnweddolConfig } from './config/config-schema.js';

/** The transport when `rabbitmq.enabled`, else undefined; the caller adds it to the server. */
export function createAmqpTransport(config: AnweddolConfig, server: AnweddolServer, logger: Logger): AmqpTransport | undefined {
  const r = config.rabbitmq;
  if (!r.enabled) return undefined;
  return new AmqpTransport({
    server,
    url: r.url,
    tls: brokerTls(config),
    queue: r.queue,
    prefetch: r.prefetch,
    maxMessageSize: r.max_message_size,
    // As long as a TCP connection may take: requests still running after that are redelivered to the next consumer.
    stopGraceMs: config.server.timeout * 1000,
    logger,
  });
}

function brokerTls(config: AnweddolConfig): Pick<ConnectionOptions, 'ca' | 'cert' | 'key'> | undefined {
  const r = config.rabbitmq;
  if (!r.url.startsWith('amqps://')) return undefined;
  const read = (path: string | null, what: string) => {
    if (path === null) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`${path}: cannot read the broker TLS ${what} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
  };
  return { ca: read(r.ca_file_path, 'CA bundle'), cert: read(r.client_certificate_file_path, 'client certificate'), key: read(r.client_private_key_file_path, 'client key') };
}
