// The FL agent channel over a RabbitMQ broker (`fl.transport: rabbitmq`): per-training exchanges and queues, uploads checked by the agent API.
import { randomBytes } from 'node:crypto';
import { connect, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { silentLogger, type Logger } from '../../shared/logger.js';
import type { AgentBrokerConfig } from '../agent/agent-config.js';
import { BrokerWireError, decodeUploadMessage, encodeNotificationMessage, type DecodedUpload } from '../agent/broker-wire.js';
import type { Notification } from '../agent/notification.js';
import type { AgentApi, Caller } from './agent-api.js';
import type { AgentTransport } from './agent-transport.js';
import { agentUrlFor, brokerRoute, vhostOf, type BrokerRoute } from './broker-route.js';
import type { RabbitmqctlUsers } from './broker-users.js';
import { FlApiError, forbidden, invalid, tooLarge, unauthorized } from './fl-api-error.js';
import type { NotifyOutcome } from './notifier.js';
import type { ClientState, TrainingRun } from './training-run.js';

export interface BrokerAgentTransportOptions {
  /** The daemon's own connection (`fl.rabbitmq.url`): declares each training's exchanges and queues, consumes uploads. */
  url: string;
  /** What agents dial (`fl.rabbitmq.agent_url`, or the sandbox gateway); asked at each training, the gateway being known late. */
  agentUrl: () => string;
  /** Per-client broker users; absent, agents use the agent URL's own credentials. */
  users?: RabbitmqctlUsers;
  /** Ceiling on any upload message, before the training's own model size check. */
  maxUploadBytes: number;
  /** How long an agent's queue outlives its last consumer (a crashed daemon's queues go away by themselves). */
  queueExpiresMs?: number;
  logger?: Logger;
}

/** The JSON bodies (metrics, feature statistics) are small, as over HTTP. */
const MAX_JSON_BYTES = 256 * 1024;

interface OpenRoute {
  route: BrokerRoute;
  consumerTag: string;
}

export class BrokerAgentTransport implements AgentTransport {
  readonly kind = 'rabbitmq' as const;
  private connection: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private readonly routes = new Map<string, OpenRoute>();
  private readonly log: Logger;
  /** Upload messages refused (bad form, bad token, wrong user, too large, out of phase): for tests and the log. */
  refusedMessages = 0;

  constructor(
    private readonly agents: AgentApi,
    private readonly options: BrokerAgentTransportOptions,
  ) {
    this.log = options.logger ?? silentLogger;
  }

  /** Connects now, so that a wrong URL or credentials fail the start, not the first training. */
  async start(): Promise<void> {
    await this.ensureChannel();
  }

  private async ensureChannel(): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    const connection = await connect(this.options.url, { timeout: 10_000 }).catch((e: Error) => {
      throw new Error(`cannot connect to the broker (fl.rabbitmq.url): ${e.message}`, { cause: e });
    });
    connection.on('error', (e: Error) => this.log.warn(`FL broker connection error: ${e.message}`));
    // Trainings whose route died with the connection lose their uploads: their rounds end at the deadline.
    connection.once('close', () => {
      if (this.connection === connection) this.connection = this.channel = undefined;
    });
    try {
      const channel = await connection.createConfirmChannel();
      channel.on('error', (e: Error) => this.log.warn(`FL broker channel error: ${e.message}`));
      channel.once('close', () => {
        if (this.channel === channel) this.channel = undefined;
      });
      await channel.prefetch(16);
      this.connection = connection;
      this.channel = channel;
      return channel;
    } catch (e) {
      await connection.close().catch(() => undefined);
      throw e;
    }
  }

  async openTraining(run: TrainingRun): Promise<Map<string, AgentBrokerConfig>> {
    const users = this.options.users;
    const route = brokerRoute(randomBytes(16).toString('hex'), [...run.clients.keys()], users ? () => randomBytes(24).toString('base64url') : undefined);
    const open: OpenRoute = { route, consumerTag: '' };
    this.routes.set(run.uuid, open);
    try {
      const ch = await this.ensureChannel();
      await ch.assertExchange(route.notifyExchange, 'direct', { durable: false, autoDelete: true });
      await ch.assertExchange(route.uploadExchange, 'fanout', { durable: false, autoDelete: true });
      // Exclusive: it goes with the daemon's connection. Its byte limit bounds what this training's agents can park in the broker.
      await ch.assertQueue(route.coordinatorQueue, {
        durable: false, exclusive: true, arguments: { 'x-max-length-bytes': 4 * run.clients.size * (run.maxModelBytes + MAX_JSON_BYTES), 'x-overflow': 'reject-publish' },
      });
      await ch.bindQueue(route.coordinatorQueue, route.uploadExchange, '');
      for (const [id, c] of route.clients) {
        await ch.assertQueue(c.queue, { durable: false, arguments: { 'x-expires': this.options.queueExpiresMs ?? 600_000, 'x-max-length': 64 } });
        await ch.bindQueue(c.queue, route.notifyExchange, id);
      }
      open.consumerTag = (await ch.consume(route.coordinatorQueue, (m) => m && this.onUpload(run, route, ch, m), { noAck: false })).consumerTag;
      await users?.create([...route.clients.values()].flatMap((c) => (c.user ? [c.user] : [])), vhostOf(this.options.url));
    } catch (e) {
      await this.closeTraining(run);
      throw e;
    }
    const agentUrl = this.options.agentUrl();
    return new Map([...route.clients].map(([id, c]) => [id, {
      url: agentUrlFor(agentUrl, c.user), queue: c.queue, exchange: route.uploadExchange, ...(c.user ? { userId: c.user.name } : {}),
    }]));
  }

  async notify(run: TrainingRun, client: ClientState, n: Notification, signal: AbortSignal): Promise<NotifyOutcome> {
    const open = this.routes.get(run.uuid);
    const ch = this.channel;
    if (!open || !ch) return { delivered: false, reason: `broker channel closed for ${n.type}` };
    try {
      // A round's notification carries its global model: the agent has no way to fetch it.
      const model = 'globalModelUuid' in n ? this.agents.getModel({ run, client }, n.globalModelUuid) : undefined;
      const m = encodeNotificationMessage(n, client.token, model);
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason as Error);
        signal.addEventListener('abort', onAbort, { once: true });
        ch.publish(open.route.notifyExchange, client.id, m.body, m.properties, (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          if (err) reject(new Error('the broker refused it'));
          else resolve();
        });
      });
      return { delivered: true };
    } catch (e) {
      return { delivered: false, reason: `broker did not take ${n.type}: ${(e as Error).message}` };
    }
  }

  /** Every message is acknowledged once looked at: a refused one is never redelivered. */
  private onUpload(run: TrainingRun, route: BrokerRoute, ch: ConfirmChannel, m: ConsumeMessage): void {
    let kind = 'message';
    try {
      if (m.content.length > this.options.maxUploadBytes) throw tooLarge(`message larger than ${this.options.maxUploadBytes} bytes`);
      const u = decodeUploadMessage({ properties: m.properties, body: m.content });
      kind = u.kind;
      this.accept(run, route, u, m.properties.userId as string | undefined);
    } catch (e) {
      this.refusedMessages++;
      // Reasons may quote what an agent sent: one line, bounded, whatever it put there.
      const reason = (e as Error).message.replace(/\p{Cc}/gu, '?').slice(0, 300);
      if (e instanceof FlApiError || e instanceof BrokerWireError) this.log.warn(`FL training ${run.uuid}: ${kind} over the broker refused: ${reason}`);
      else this.log.error(`FL training ${run.uuid}: ${kind} over the broker failed: ${reason}`);
    } finally {
      ch.ack(m);
    }
  }

  /** The same checks as the HTTP API (bearer token, then the agent API's own), plus the broker-validated user id. */
  private accept(run: TrainingRun, route: BrokerRoute, u: DecodedUpload, userId: string | undefined): void {
    const caller: Caller | undefined = this.agents.authenticate(u.token);
    if (!caller) throw unauthorized();
    if (caller.run !== run) throw forbidden('token belongs to another training');
    const user = route.clients.get(caller.client.id)?.user;
    if (user && userId !== user.name) throw forbidden('user_id does not match the token');
    switch (u.kind) {
      case 'update':
        if (u.body.length > this.agents.maxModelBytes(caller)) throw tooLarge(`model file larger than ${this.agents.maxModelBytes(caller)} bytes`);
        return this.agents.acceptUpdate(caller, u.target, { fields: u.fields, file: u.body });
      case 'metrics':
        return this.agents.acceptMetrics(caller, u.target, jsonObject(u.body));
      case 'statistics':
        return this.agents.acceptStatistics(caller, u.target, jsonObject(u.body));
    }
  }

  async closeTraining(run: TrainingRun): Promise<void> {
    const open = this.routes.get(run.uuid);
    if (!open) return;
    this.routes.delete(run.uuid);
    const { route, consumerTag } = open;
    const ch = this.channel;
    if (ch) {
      try {
        if (consumerTag) await ch.cancel(consumerTag);
        for (const c of route.clients.values()) await ch.deleteQueue(c.queue);
        await ch.deleteQueue(route.coordinatorQueue);
        await ch.deleteExchange(route.notifyExchange);
        await ch.deleteExchange(route.uploadExchange);
      } catch (e) {
        this.log.warn(`FL training ${run.uuid}: removing its broker queues failed: ${(e as Error).message}`);
      }
    }
    const names = [...route.clients.values()].flatMap((c) => (c.user ? [c.user.name] : []));
    if (names.length > 0) {
      await this.options.users?.delete(names).catch((e: Error) => this.log.error(`FL training ${run.uuid}: deleting its broker users failed: ${e.message}`));
    }
  }

  async stop(): Promise<void> {
    const connection = this.connection;
    this.connection = this.channel = undefined;
    await connection?.close().catch(() => undefined);
  }
}

function jsonObject(body: Buffer): Record<string, unknown> {
  if (body.length > MAX_JSON_BYTES) throw tooLarge(`JSON body larger than ${MAX_JSON_BYTES} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('body must be a JSON object');
  return v as Record<string, unknown>;
}
