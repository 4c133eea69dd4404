// A small Anweddol client over RabbitMQ (README "RabbitMQ interface"): requests to the server's queue, answers on a reply queue, matched by correlation id.
import { randomUUID } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import { connect, type ChannelModel, type ConfirmChannel, type Message } from 'amqplib';
import type { AnweddolResponse } from '../server/types.js';
import { AnweddolVerbClient } from './verb-client.js';

export const DEFAULT_REQUEST_QUEUE = 'anweddol.requests';

export interface AnweddolAmqpClientOptions {
  /** `amqp://user:password@host:port/vhost` or `amqps://…`. */
  url: string;
  /** The server's request queue (`rabbitmq.queue`); default `anweddol.requests`. */
  queue?: string;
  /** Time to wait for an answer, in ms (default 60 000). */
  timeoutMs?: number;
  /** TLS settings for `amqps://`. */
  tls?: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
  /**
   * A durable reply queue of this name, kept 10 minutes after its last consumer: answers wait in it across a broker
   * restart, and another client object may collect them. Default: a private queue named by the broker, gone with the connection.
   */
  replyQueue?: string;
}

/** Unused durable reply queues are deleted by the broker after this long. */
const REPLY_QUEUE_EXPIRES_MS = 10 * 60_000;
/** Answers nobody asked for yet (e.g. sent before a restart) are kept up to this many. */
const MAX_UNCLAIMED = 1000;

interface Waiter {
  resolve(response: AnweddolResponse): void;
  reject(error: Error): void;
}

export class AnweddolAmqpClient extends AnweddolVerbClient {
  private readonly waiters = new Map<string, Waiter>();
  private readonly unclaimed = new Map<string, AnweddolResponse>();
  private readonly returned = new Set<string>();
  private closedError: Error | undefined;

  private constructor(
    private readonly options: AnweddolAmqpClientOptions,
    private readonly connection: ChannelModel,
    private readonly channel: ConfirmChannel,
    /** The reply queue's name (the broker's, for a private one). */
    readonly replyQueue: string,
  ) {
    super();
    connection.on('error', () => {});
    connection.once('close', () => {
      this.closedError = new Error('the broker connection closed');
      for (const waiter of this.waiters.values()) waiter.reject(this.closedError);
      this.waiters.clear();
    });
    channel.on('error', () => {});
    channel.on('return', (message: Message) => {
      if (typeof message.properties.messageId === 'string') this.returned.add(message.properties.messageId);
    });
  }

  static async connect(options: AnweddolAmqpClientOptions): Promise<AnweddolAmqpClient> {
    const connection = await connect(options.url, { ...options.tls });
    try {
      const channel = await connection.createConfirmChannel();
      const reply =
        options.replyQueue === undefined
          ? await channel.assertQueue('', { exclusive: true, autoDelete: true })
          : await channel.assertQueue(options.replyQueue, { durable: true, arguments: { 'x-expires': REPLY_QUEUE_EXPIRES_MS } });
      const client = new AnweddolAmqpClient(options, connection, channel, reply.queue);
      await channel.consume(reply.queue, (message) => message && client.onReply(message), { noAck: true });
      return client;
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }

  /** Sends `{verb, parameters}` and waits for its answer. */
  async request(verb: string, parameters: Record<string, unknown> = {}): Promise<AnweddolResponse> {
    const correlationId = randomUUID();
    const answer = this.reply(correlationId);
    try {
      await this.send(verb, parameters, correlationId);
    } catch (error) {
      this.waiters.delete(correlationId);
      throw error;
    }
    return answer;
  }

  /** Publishes a request (persistent, confirmed by the broker) without waiting for its answer; `reply` collects it. */
  send(verb: string, parameters: Record<string, unknown> = {}, correlationId: string = randomUUID()): Promise<string> {
    const body = Buffer.from(JSON.stringify({ verb, parameters }));
    return this.publishRaw(body, { correlationId, replyTo: this.replyQueue }).then(() => correlationId);
  }

  /** Publishes any body with any properties to the request queue (tests: poison messages); resolves once the broker confirmed it. */
  publishRaw(body: Buffer, properties: { correlationId?: string; replyTo?: string }): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    const queue = this.options.queue ?? DEFAULT_REQUEST_QUEUE;
    const messageId = randomUUID();
    return new Promise<void>((resolve, reject) => {
      const confirmed = (error: unknown) => {
        if (error) return reject(new Error(`the broker did not take the request (${String(error)})`));
        // `mandatory`: a message no queue takes comes back before its confirm.
        if (this.returned.delete(messageId)) return reject(new Error(`no queue ${queue} on the broker: is the server's rabbitmq interface on?`));
        resolve();
      };
      try {
        this.channel.sendToQueue(queue, body, { ...properties, messageId, persistent: true, mandatory: true, contentType: 'application/json' }, confirmed);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** The answer to `correlationId` (already arrived, or the next one to arrive); rejects after `timeoutMs`. */
  reply(correlationId: string, timeoutMs = this.options.timeoutMs ?? 60_000): Promise<AnweddolResponse> {
    const early = this.unclaimed.get(correlationId);
    if (early !== undefined) {
      this.unclaimed.delete(correlationId);
      return Promise.resolve(early);
    }
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise<AnweddolResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(correlationId);
        reject(new Error(`no answer over the broker within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        this.waiters.delete(correlationId);
      };
      this.waiters.set(correlationId, {
        resolve: (response) => (settle(), resolve(response)),
        reject: (error) => (settle(), reject(error)),
      });
    });
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => {});
  }

  private onReply(message: Message): void {
    const correlationId = message.properties.correlationId;
    if (typeof correlationId !== 'string') return;
    let response: AnweddolResponse;
    try {
      response = JSON.parse(message.content.toString('utf8')) as AnweddolResponse;
    } catch {
      return;
    }
    const waiter = this.waiters.get(correlationId);
    if (waiter !== undefined) return waiter.resolve(response);
    if (this.unclaimed.size >= MAX_UNCLAIMED) this.unclaimed.delete(this.unclaimed.keys().next().value!);
    this.unclaimed.set(correlationId, response);
  }
}
