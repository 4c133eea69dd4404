import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Ajv } from 'ajv';
import { REPO_ROOT } from '../../helpers/cli-runner.js';
import { MemoryLogger } from '../../helpers/memory-logger.js';
import { until } from '../../helpers/until.js';

interface Queue {
  push(body: object): void;
  close(): Promise<void>;
  delivered: number;
  dropped: number;
}
interface WebhookModule {
  configSchema: object;
  WebhookQueue: new (config: Record<string, unknown>, logger: MemoryLogger) => Queue;
  register(api: object): { stop(): Promise<void> };
}

interface Received {
  at: number;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

let webhook: WebhookModule;
let receiver: Server;
let url: string;
const received: Received[] = [];
/** How the receiver answers the next requests (default 204). */
let answer: (res: ServerResponse, count: number) => void = (res) => res.writeHead(204).end();

before(async () => {
  webhook = (await import(`${REPO_ROOT}examples/plugins/webhook-notifier.mjs`)) as WebhookModule;
  receiver = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      received.push({ at: Date.now(), headers: req.headers, body: JSON.parse(text) as Record<string, unknown> });
      answer(res, received.length);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook/secret-path`;
});
after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

/** The plugin's config with its schema defaults, as the daemon would hand it. */
function config(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const value = { url, initial_backoff_ms: 50, flush_timeout_ms: 2000, ...overrides };
  assert.ok(new Ajv({ useDefaults: true, strict: false }).validate(webhook.configSchema, value));
  return value;
}

function reset(next: typeof answer = (res) => res.writeHead(204).end()): void {
  received.length = 0;
  answer = next;
}

describe('webhook notifier example plugin', () => {
  it('POSTs each notification as JSON with the configured headers', async () => {
    reset();
    const queue = new webhook.WebhookQueue(config({ headers: { authorization: 'Bearer t0ken' } }), new MemoryLogger());
    queue.push({ event: 'created_container', container_id: 'abc' });
    await until(() => queue.delivered === 1);
    await queue.close();
    assert.deepEqual(received[0]!.body, { event: 'created_container', container_id: 'abc' });
    assert.equal(received[0]!.headers['content-type'], 'application/json');
    assert.equal(received[0]!.headers.authorization, 'Bearer t0ken');
  });

  it('retries a failed delivery with a growing delay', async () => {
    reset((res, count) => res.writeHead(count < 3 ? 503 : 200).end());
    const queue = new webhook.WebhookQueue(config(), new MemoryLogger());
    queue.push({ event: 'destroyed_container' });
    await until(() => queue.delivered === 1);
    await queue.close();
    assert.equal(received.length, 3);
    const [first, second, third] = received.map((r) => r.at);
    assert.ok(second! - first! >= 45, `first retry after ${second! - first!} ms`);
    assert.ok(third! - second! >= 95, `second retry after ${third! - second!} ms`);
  });

  it('does not retry a request the receiver rejects as bad', async () => {
    reset((res) => res.writeHead(400).end());
    const logger = new MemoryLogger();
    const queue = new webhook.WebhookQueue(config(), logger);
    queue.push({ event: 'created_container' });
    await until(() => queue.dropped === 1);
    await queue.close();
    assert.equal(received.length, 1);
    assert.match(logger.text(), /answered HTTP 400/);
  });

  it('gives up after max_attempts and never logs the URL path', async () => {
    reset((res) => res.writeHead(500).end());
    const logger = new MemoryLogger();
    const queue = new webhook.WebhookQueue(config({ max_attempts: 2, initial_backoff_ms: 10 }), logger);
    queue.push({ event: 'created_container' });
    await until(() => queue.dropped === 1);
    await queue.close();
    assert.equal(received.length, 2);
    assert.match(logger.text(), /gave up on a created_container notification to http:\/\/127\.0\.0\.1:\d+$/m);
    assert.equal(logger.text().includes('secret-path'), false);
  });

  it('keeps at most max_queue notifications waiting, dropping the oldest', async () => {
    const held: ServerResponse[] = [];
    reset((res) => void held.push(res));
    const queue = new webhook.WebhookQueue(config({ max_queue: 2 }), new MemoryLogger());
    for (let i = 0; i < 5; i++) queue.push({ event: 'e', i });
    // Sending starts on the next turn: of the five pushed at once, the last two are kept.
    assert.equal(queue.dropped, 3);
    await until(() => held.length === 1);
    queue.push({ event: 'e', i: 5 });
    queue.push({ event: 'e', i: 6 });
    // One is in flight; behind it the queue holds two again.
    assert.equal(queue.dropped, 4);
    answer = (res) => res.writeHead(204).end();
    held[0]!.writeHead(204).end();
    await until(() => queue.delivered === 3);
    await queue.close();
    assert.deepEqual(received.map((r) => r.body.i), [3, 5, 6]);
  });

  it('returns from the event hook at once while the receiver is still answering', async () => {
    const held: ServerResponse[] = [];
    reset((res) => void held.push(res));
    const hooks = new Map<string, (ctx: object) => unknown>();
    const api = {
      config: config(),
      logger: new MemoryLogger(),
      server: { on: (event: string, hook: (ctx: object) => unknown) => hooks.set(event, hook) },
    };
    const handle = webhook.register(api);
    const result = hooks.get('created_container')!({ container_id: 'f'.repeat(64), container_uuid: 'must-not-leak', client: { id: 'abcdef0', transport: 'tcp', address: '192.0.2.1' } });
    // Returned synchronously, before the receiver even saw the request (a wall-clock bound would only measure the machine's load).
    assert.equal(result, undefined);
    assert.equal(held.length, 0);
    await until(() => held.length === 1);
    held[0]!.writeHead(204).end();
    await handle.stop();
    const body = received[0]!.body;
    assert.equal(body.container_id, 'ffffffffffff');
    assert.deepEqual(body.client, { id: 'abcdef0', transport: 'tcp' });
    assert.equal(JSON.stringify(body).includes('must-not-leak'), false);
  });

  it('abandons what is left after flush_timeout_ms at stop', async () => {
    reset(() => {});
    const logger = new MemoryLogger();
    const queue = new webhook.WebhookQueue(config({ flush_timeout_ms: 100 }), logger);
    queue.push({ event: 'a' });
    queue.push({ event: 'b' });
    const started = Date.now();
    await queue.close();
    assert.ok(Date.now() - started < 1000);
    assert.match(logger.text(), /stopped with 1 notification\(s\) undelivered/);
  });
});
