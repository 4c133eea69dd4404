// Example plugin: POSTs one JSON object per sandbox event to a URL, from a bounded queue with retries and backoff,
// so a slow or dead receiver never delays a client's request.
import { setTimeout as sleep } from 'node:timers/promises';

export const name = 'webhook-notifier';

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', pattern: '^https?://' },
    events: { type: 'array', items: { type: 'string' }, default: ['created_container', 'destroyed_container'] },
    /** Sent with every POST (e.g. an Authorization header); never logged. */
    headers: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
    max_queue: { type: 'integer', minimum: 1, default: 1000 },
    max_attempts: { type: 'integer', minimum: 1, default: 5 },
    initial_backoff_ms: { type: 'integer', minimum: 1, default: 500 },
    max_backoff_ms: { type: 'integer', minimum: 1, default: 30000 },
    timeout_ms: { type: 'integer', minimum: 1, default: 5000 },
    /** At stop, how long undelivered notifications may still be tried. */
    flush_timeout_ms: { type: 'integer', minimum: 0, default: 5000 },
  },
};

/** A receiver's 4xx is final (except 408 and 429): retrying the same body cannot help. */
const retryable = (status) => status >= 500 || status === 408 || status === 429;

// Only identifiers that are not credentials: never container_uuid, client_token or the SSH password.
// Any event can be sent (config.events); the sandbox fields are null on events without them.
function describe(event, ctx) {
  return {
    event,
    time: new Date().toISOString(),
    container_id: typeof ctx.container_id === 'string' ? ctx.container_id.slice(0, 12) : null,
    port: ctx.container_listen_port ?? null,
    reason: ctx.reason ?? null,
    client: ctx.client ? { id: ctx.client.id, transport: ctx.client.transport } : null,
    fl: ctx.fl ?? null,
  };
}

/** The queue and its sender, apart from the server so it can be tested alone. */
export class WebhookQueue {
  constructor(config, logger) {
    this.config = config;
    this.logger = logger;
    this.queue = [];
    this.closing = new AbortController();
    this.busy = false;
    this.sending = Promise.resolve();
    this.delivered = 0;
    this.dropped = 0;
    // The URL may carry a secret in its path or query: logs show its origin only.
    this.target = new URL(config.url).origin;
  }

  /** Never waits: the notification is queued and sent in the background. */
  push(body) {
    if (this.closing.signal.aborted) return;
    if (this.queue.length >= this.config.max_queue) {
      this.queue.shift();
      this.dropped++;
      this.logger.warn(`queue full (${this.config.max_queue}): dropped the oldest notification`);
    }
    this.queue.push(body);
    if (!this.busy) {
      this.busy = true;
      // Next turn of the event loop: even the first fetch (which loads its HTTP client) stays off the hook's path.
      this.sending = new Promise((resolve) => setImmediate(resolve)).then(() => this.drain());
    }
  }

  async drain() {
    try {
      while (this.queue.length > 0 && !this.closing.signal.aborted) {
        const body = this.queue.shift();
        if (await this.deliver(body)) this.delivered++;
        else this.dropped++;
      }
    } finally {
      // Cleared in the same tick the loop sees an empty queue, so the next push starts a new drain.
      this.busy = false;
    }
  }

  async deliver(body) {
    const { max_attempts, initial_backoff_ms, max_backoff_ms } = this.config;
    for (let attempt = 1; attempt <= max_attempts; attempt++) {
      const outcome = await this.post(body);
      if (outcome === 'ok') return true;
      if (outcome === 'final' || attempt === max_attempts || this.closing.signal.aborted) break;
      const delay = Math.min(initial_backoff_ms * 2 ** (attempt - 1), max_backoff_ms);
      await sleep(delay, undefined, { signal: this.closing.signal }).catch(() => {});
    }
    this.logger.warn(`gave up on a ${body.event} notification to ${this.target}`);
    return false;
  }

  async post(body) {
    try {
      const response = await fetch(this.config.url, {
        method: 'POST',
        headers: { ...this.config.headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.config.timeout_ms)]),
      });
      await response.body?.cancel();
      if (response.ok) return 'ok';
      this.logger.warn(`${this.target} answered HTTP ${response.status}`);
      return retryable(response.status) ? 'retry' : 'final';
    } catch (error) {
      this.logger.warn(`cannot reach ${this.target}: ${error.cause?.code ?? error.name}`);
      return 'retry';
    }
  }

  /** Gives queued notifications until flush_timeout_ms, then abandons what is left. */
  async close() {
    const flushed = this.sending;
    let timer;
    const deadline = new Promise((resolve) => (timer = setTimeout(resolve, this.config.flush_timeout_ms)));
    await Promise.race([flushed, deadline]);
    clearTimeout(timer);
    this.closing.abort();
    await flushed;
    const left = this.queue.length;
    this.queue.length = 0;
    if (left > 0) this.logger.warn(`stopped with ${left} notification(s) undelivered`);
  }
}

export function register(api) {
  const queue = new WebhookQueue(api.config, api.logger);
  for (const event of api.config.events) api.server.on(event, (ctx) => queue.push(describe(event, ctx)));
  api.logger.info(`notifying ${queue.target} of ${api.config.events.join(', ')}`);
  return { stop: () => queue.close() };
}
