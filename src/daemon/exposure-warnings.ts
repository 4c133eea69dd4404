// What `start` shouts about before serving: listeners on a non-loopback address that anyone reaching it may use without a token.
import { BlockList, isIP } from 'node:net';
import type { AnweddolConfig } from './config/config-schema.js';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms; the wildcard addresses (0.0.0.0, ::) are every interface, so not loopback. */
export function isLoopbackAddress(address: string): boolean {
  const unmapped = address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  const family = isIP(unmapped);
  return family !== 0 && LOOPBACK.check(unmapped, family === 4 ? 'ipv4' : 'ipv6');
}


/** One line per listener that strangers can use freely: a non-loopback address while access tokens are off, or metrics (never authenticated). */
export function exposureWarnings(config: AnweddolConfig, options: { web: boolean }): string[] {
  return [...protocolListenerWarnings(config, options), ...brokerWarnings(config), ...metricsWarnings(config)];
}

/** Whoever may publish to the request queue is a client, and without tokens all of them share one identity. */
function brokerWarnings(config: AnweddolConfig): string[] {
  if (!config.rabbitmq.enabled || config.access_token.enabled) return [];
  return [
    `the RabbitMQ interface serves ${config.rabbitmq.queue} with access tokens off: anyone who may publish to it can create sandboxes, ` +
      'and all broker clients share one set of per-client limits (set access_token.enabled: true)',
  ];
}

function metricsWarnings(config: AnweddolConfig): string[] {
  const { enabled, bind_address: address, listen_port: port } = config.metrics;
  if (!enabled || isLoopbackAddress(address)) return [];
  return [
    `metrics listen on ${hostPort(address, port)} without authentication: anyone who reaches it reads them ` +
      '(bind metrics.bind_address to 127.0.0.1, or filter the port)',
  ];
}

function hostPort(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

function protocolListenerWarnings(config: AnweddolConfig, options: { web: boolean }): string[] {
  if (config.access_token.enabled) return [];
  const listeners: Array<[string, string, number]> = [];
  if (config.server.enable_tcp) listeners.push(['tcp', config.server.bind_address, config.server.listen_port]);
  if (options.web) listeners.push([config.web_server.enable_ssl ? 'https' : 'http', config.web_server.bind_address, config.web_server.listen_port]);
  return listeners
    .filter(([, address]) => !isLoopbackAddress(address))
    .map(
      ([transport, address, port]) =>
        `${transport} listens on ${hostPort(address, port)} with access tokens off: ` +
        'anyone who reaches it can create sandboxes (set access_token.enabled: true, or bind to a loopback address)',
    );
}
