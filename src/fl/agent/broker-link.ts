// The agent's broker channel: consumes its own notification queue and publishes uploads to the training's exchange.
import { connect, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import type { FeatureStatistics } from '../data/standardizer.js';
import type { AgentBrokerConfig, AgentTrainerKind } from './agent-config.js';
import { decodeNotificationMessage, encodeUploadMessage, type UploadKind } from './broker-wire.js';
import { metricsBody, updateFields, type CoordinatorChannel, type Metrics, type ModelUpdate } from './coordinator-client.js';

/** A decoded message from the queue; the agent validates it and decides. */
export type IncomingNotification = ReturnType<typeof decodeNotificationMessage>;

/** Global models received with round notifications; a few are kept (a test round follows its fit round's model). */
const KEPT_MODELS = 4;

export class BrokerLink implements CoordinatorChannel {
  private readonly models = new Map<string, Uint8Array>();
  private closing = false;

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: ConfirmChannel,
    private readonly config: AgentBrokerConfig,
    private readonly token: string,
    readonly owner: string,
  ) {
    // 'error' is always followed by 'close' (reported through onLost); unhandled, it would end the process.
    connection.on('error', () => {});
  }

  /**
   * Connects, retrying until `timeoutMs`: the coordinator creates this agent's broker user just before the sandbox,
   * and the broker imports it asynchronously.
   */
  static async connect(config: AgentBrokerConfig, token: string, owner: string, timeoutMs = 30_000): Promise<BrokerLink> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let connection: ChannelModel | undefined;
      try {
        connection = await connect(config.url, { timeout: 10_000 });
        const channel = await connection.createConfirmChannel();
        await channel.prefetch(4);
        return new BrokerLink(connection, channel, config, token, owner);
      } catch (e) {
        await connection?.close().catch(() => undefined);
        if (Date.now() >= deadline) throw new Error(`cannot reach the broker: ${(e as Error).message}`, { cause: e });
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Calls `handle` for each message of this agent's queue, in order; a message is acknowledged once handled. */
  async consume(handle: (n: IncomingNotification) => void, onError: (message: string) => void): Promise<void> {
    await this.channel.consume(this.config.queue, (m: ConsumeMessage | null) => {
      if (m === null) {
        if (!this.closing) onError('the broker cancelled the notification queue');
        return;
      }
      try {
        handle(decodeNotificationMessage({ properties: m.properties, body: m.content }));
      } catch (e) {
        onError(`notification rejected: ${(e as Error).message}`);
      }
      this.channel.ack(m);
    });
  }

  /** Keeps a round notification's model for the trainer's download. */
  rememberModel(modelUuid: string, bytes: Uint8Array): void {
    this.models.set(modelUuid, bytes);
    for (const k of this.models.keys()) if (this.models.size > KEPT_MODELS) this.models.delete(k);
  }

  /** Registers the listener called once if the broker connection ends without `close()`. */
  onLost(listener: (reason: string) => void): void {
    this.connection.once('close', (e?: Error) => {
      if (!this.closing) listener(e?.message ?? 'connection closed');
    });
  }

  async downloadModel(modelUuid: string): Promise<Uint8Array> {
    const m = this.models.get(modelUuid);
    if (!m) throw new Error(`model ${modelUuid} did not come with a notification`);
    return m;
  }

  uploadModel(baseModelUuid: string, update: ModelUpdate): Promise<void> {
    return this.publish('update', baseModelUuid, Buffer.from(update.file.buffer, update.file.byteOffset, update.file.byteLength), updateFields(this.owner, update));
  }

  postMetrics(modelUuid: string, round: number, metrics: Metrics): Promise<void> {
    return this.publish('metrics', modelUuid, Buffer.from(metricsBody(this.owner, round, metrics)));
  }

  postStatistics(trainingUuid: string, stats: FeatureStatistics, trainer: AgentTrainerKind): Promise<void> {
    return this.publish('statistics', trainingUuid, Buffer.from(JSON.stringify({ owner: this.owner, trainer, ...stats })));
  }

  /** Resolves once the broker took the message (a full queue or an oversized message is a nack: an error here). */
  private publish(kind: UploadKind, target: string, body: Buffer, fields?: Record<string, string>): Promise<void> {
    const m = encodeUploadMessage(kind, this.token, target, body, fields, this.config.userId);
    return new Promise((resolve, reject) => {
      this.channel.publish(this.config.exchange, '', m.body, m.properties, (err: unknown) => {
        if (err) reject(new Error(`the broker refused the ${kind} message`));
        else resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.connection.close().catch(() => undefined);
  }
}
