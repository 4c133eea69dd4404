// The RabbitMQ transport (README "RabbitMQ interface"): requests consumed from a broker queue, answered to `reply_to`, through the server's one request chain.
import { randomUUID } from 'node:crypto';
import { connect, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Message } from 'amqplib';
import type { ConnectionOptions } from 'node:tls';
import { refusedRequest } from '../errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import type { AnweddolResponse, ClientInfo, Transport } from '../types.js';
import { brokerName } from './amqp-url.js';
import { brokerClientAddress, parseDelivery, type PoisonReason } from './broker-delivery.js';
import { RequestLedger } from './request-ledger.js';

/** What the transport needs from AnweddolServer: the same chain and accounting as REST, plus the poison count. */
export interface AmqpDispatchTarget {
  clientInfo(address: string | undefined, port: number | undefined, transport: Transport): ClientInfo;
  dispatch(request: unknown, client: ClientInfo): Promise<AnweddolResponse>;
  connectionAccepted(client: ClientInfo): Promise<{ refused: boolean; reason?: string }>;
  admitConnection(client: ClientInfo): (() => void) | undefined;
  connectionClosed(client: ClientInfo, state: string): Promise<void>;
  undoUndelivered(response: AnweddolResponse, client: ClientInfo): Promise<void>;
  reportPoisonMessage(reason: PoisonReason): void;
  readonly requiresAccessTokens: boolean;
}

export interface AmqpTransportOptions {
  server: AmqpDispatchTarget;
  /** `amqp://` or `amqps://` (user and password in it; never logged). */
  url: string;
  /** TLS settings for `amqps://` (CA, client certificate and key). */
  tls?: Pick<ConnectionOptions, 'ca' | 'cert' | 'key'>;
  /** Durable request queue, declared on every connection. */
  queue: string;
  /** Requests served at once (unacknowledged deliveries). */
  prefetch: number;
  /** Bodies over this many bytes are poison. */
  maxMessageSize: number;
  /** Reconnection backoff: first and longest delay, in ms (default 500 and 30 000). */
  reconnectDelayMs?: { initial: number; max: number };
  /** Time stop() leaves requests in progress to be answered, in ms (default 10 000); the rest are redelivered later. */
  stopGraceMs?: number;
  /** How long an answer is kept for a redelivery of its request, in ms (default 15 min). */
  answerTtlMs?: number;
  logger?: Logger;
}

/** One connection's channel; requests remember theirs, since a delivery can only be acknowledged where it arrived. */
interface BrokerSession {
  channel: ConfirmChannel;
  open: boolean;
  /** Ids of our answers the broker returned as unroutable (`mandatory`): nobody was listening on `reply_to`. */
  returned: Set<string>;
}

/** `state` of `client_closed` for a broker request. */
export type AmqpClosedState = 'Refused' | 'Responded';

const HEARTBEAT_SECONDS = 30;
const LEDGER_MAX_ENTRIES = 10_000;

export class AmqpTransport {
  private readonly logger: Logger;
  private readonly ledger: RequestLedger<{ response: AnweddolResponse; client: ClientInfo }>;
  private readonly inFlight = new Set<Promise<void>>();
  private connection: ChannelModel | undefined;
  private session: BrokerSession | undefined;
  private stopping: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private consuming = deferred();

  constructor(private readonly options: AmqpTransportOptions) {
    this.logger = options.logger ?? silentLogger;
    this.ledger = new RequestLedger({ ttlMs: options.answerTtlMs ?? 15 * 60_000, maxEntries: LEDGER_MAX_ENTRIES });
  }

  /** Returns at once: the broker is another machine's service, so it is (re)connected in the background. */
  async start(): Promise<void> {
    if (this.loop !== undefined) throw new Error('AMQP transport is already started');
    this.stopping = new AbortController();
    // A restarted server waits for its new connection, not the one it had before stop().
    if (this.consuming.settled) this.consuming = deferred();
    this.loop = this.connectLoop(this.stopping.signal);
  }

  /** Resolves once the transport consumes its queue (after start, or after a reconnection). */
  whenConsuming(): Promise<void> {
    return this.consuming.promise;
  }

  /** Stops consuming, leaves running requests `stopGraceMs` to be answered, then closes the connection. */
  async stop(): Promise<void> {
    if (this.stopping === undefined) return;
    this.stopping.abort();
    // One bound for both: a broker that stopped answering (partition) must not hold the daemon's stop.
    const grace = new Promise((resolve) => setTimeout(resolve, this.options.stopGraceMs ?? 10_000).unref());
    const session = this.session;
    if (session?.open) await Promise.race([session.channel.cancel(this.consumerTag).catch(() => {}), grace]);
    await Promise.race([Promise.allSettled([...this.inFlight]), grace]);
    await this.connection?.close().catch(() => {});
    await this.loop;
    this.stopping = undefined;
    this.loop = undefined;
  }

  private readonly consumerTag = `anweddol-${randomUUID()}`;

  private async connectLoop(signal: AbortSignal): Promise<void> {
    const { initial, max } = this.options.reconnectDelayMs ?? { initial: 500, max: 30_000 };
    let delay = initial;
    while (!signal.aborted) {
      try {
        const { closed } = await this.connectOnce();
        delay = initial;
        this.logger.info(`amqp: consuming ${this.options.queue} on ${brokerName(this.options.url)}`);
        this.consuming.resolve();
        await closed;
      } catch (error) {
        this.logger.warn(`amqp: cannot consume from ${brokerName(this.options.url)} (${describe(error)}); retrying in ${delay} ms`);
      }
      this.connection = undefined;
      this.session = undefined;
      if (signal.aborted) break;
      if (this.consuming.settled) this.consuming = deferred();
      await sleep(delay, signal);
      delay = Math.min(max, delay * 2);
    }
  }

  /** Connects, declares the queue and consumes; `closed` settles when the connection ends (wrapped: a returned promise would be awaited). */
  private async connectOnce(): Promise<{ closed: Promise<void> }> {
    const o = this.options;
    const url = new URL(o.url);
    // A broker that vanished without closing the socket is noticed within two heartbeats.
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(HEARTBEAT_SECONDS));
    const connection = await connect(url.toString(), { ...o.tls });
    this.connection = connection;
    const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    // A broker going away is reported once by the loop; without a listener this event would crash the process.
    connection.on('error', () => {});
    try {
      const channel = await connection.createConfirmChannel();
      const session: BrokerSession = { channel, open: true, returned: new Set() };
      channel.on('error', () => {});
      // A closed channel (e.g. the broker refused an operation) ends the connection: the loop builds both again.
      channel.once('close', () => {
        session.open = false;
        void connection.close().catch(() => {});
      });
      channel.on('return', (message: Message) => {
        if (typeof message.properties.messageId === 'string') session.returned.add(message.properties.messageId);
      });
      await channel.assertQueue(o.queue, { durable: true });
      await channel.prefetch(o.prefetch);
      await channel.consume(o.queue, (message) => this.track(this.onDelivery(message, session, connection)), { noAck: false, consumerTag: this.consumerTag });
      this.session = session;
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
    return { closed };
  }

  private track(work: Promise<void>): void {
    // The chain answers every failure itself; anything else is a bug, logged, and the message is redelivered on reconnection.
    const tracked = work.catch((error: unknown) => this.logger.error(`amqp: delivery handling failed (${describe(error)})`));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private async onDelivery(message: ConsumeMessage | null, session: BrokerSession, connection: ChannelModel): Promise<void> {
    // null: the broker cancelled our consumer (queue deleted); reconnecting declares it again.
    if (message === null) return void connection.close().catch(() => {});
    const o = this.options;
    const parsed = parseDelivery(
      { body: message.content, replyTo: message.properties.replyTo, correlationId: message.properties.correlationId },
      { maxMessageSize: o.maxMessageSize, requestQueue: o.queue },
    );
    if (!parsed.ok) {
      this.logger.warn(`amqp: poison message rejected without requeue (${parsed.reason})`);
      o.server.reportPoisonMessage(parsed.reason);
      settle(session, () => session.channel.nack(message, false, false));
      return;
    }
    // A redelivery (the first delivery's connection died before its ack) joins or repeats the first answer.
    const { response, client } = await this.ledger.run(parsed.key, () => this.serve(parsed.request));
    // Its channel is gone: the broker redelivers the message, and that delivery is answered from the ledger.
    if (!session.open) return;
    const messageId = randomUUID();
    try {
      await publish(session.channel, parsed.replyTo, Buffer.from(JSON.stringify(response)), { correlationId: parsed.correlationId, messageId });
    } catch {
      return;
    }
    if (session.returned.delete(messageId)) {
      this.logger.warn(`client ${client.id}: nobody listens on its reply_to (amqp)`);
      await o.server.undoUndelivered(response, client);
    }
    settle(session, () => session.channel.ack(message));
  }

  /** One request is one client, as one REST request is: admitted, announced, dispatched, closed. */
  private async serve(request: unknown): Promise<{ response: AnweddolResponse; client: ClientInfo }> {
    const server = this.options.server;
    const client = server.clientInfo(brokerClientAddress(request, server.requiresAccessTokens), undefined, 'amqp');
    const release = server.admitConnection(client);
    if (release === undefined) return { response: refusedRequest('max_connections_per_client').toResponse(), client };
    let state: AmqpClosedState = 'Refused';
    try {
      const { refused, reason } = await server.connectionAccepted(client);
      if (refused) {
        this.logger.info(`client ${client.id}: refused by a connection_accepted hook (amqp)`);
        return { response: refusedRequest(reason).toResponse(), client };
      }
      const response = await server.dispatch(request, client);
      state = 'Responded';
      return { response, client };
    } finally {
      release();
      void server.connectionClosed(client, state).catch(() => {});
    }
  }

}

/** Publishes an answer and waits for the broker's confirm; `mandatory`, so an unroutable answer comes back as a `return` first. */
function publish(channel: ConfirmChannel, queue: string, body: Buffer, properties: { correlationId: string; messageId: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      channel.sendToQueue(queue, body, { ...properties, contentType: 'application/json', persistent: true, mandatory: true }, (error: unknown) =>
        error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
      );
    } catch (error) {
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/** Acknowledges on a channel that may have closed meanwhile: then the broker redelivers, and that is the intended outcome. */
function settle(session: BrokerSession, acknowledge: () => void): void {
  if (!session.open) return;
  try {
    acknowledge();
  } catch {
    // closed between the check and the call
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void; settled?: boolean } {
  const d: { promise: Promise<void>; resolve: () => void; settled?: boolean } = { promise: Promise.resolve(), resolve: () => {} };
  d.promise = new Promise<void>((resolve) => {
    d.resolve = () => {
      d.settled = true;
      resolve();
    };
  });
  return d;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // amqplib puts the URL in some messages: credentials never reach a log line.
  return text.replace(/amqps?:\/\/[^\s]*/g, 'amqp://…').slice(0, 200);
}
