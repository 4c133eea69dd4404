// Broker URLs: which ones the transport and the client take, and how one is named in a log line (never with its credentials).

/** True for `amqp://host[:port][/vhost]` or `amqps://…` with a host (config validation, `stat --amqp`). */
export function isAmqpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'amqp:' || url.protocol === 'amqps:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** `amqp://host:port` of a broker URL: user, password, vhost and query left out. */
export function brokerName(value: string): string {
  try {
    const url = new URL(value);
    return `${url.protocol}//${url.host}`;
  } catch {
    return 'the broker';
  }
}
