// The in-sandbox FL agent: receives coordinator notifications (HTTP endpoint, or its broker queue) and runs the trainer per round.
import { spawn } from 'node:child_process';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dataset } from '../data/dataset.js';
import { computeFeatureStatistics } from '../data/standardizer.js';
import { agentTrainerKind, type AgentConfig } from './agent-config.js';
import { BrokerLink, type IncomingNotification } from './broker-link.js';
import { runBuiltinTrainer, type TrainerTask } from './builtin-trainer.js';
import { CoordinatorClient, type CoordinatorChannel } from './coordinator-client.js';
import { runFileTrainer } from './file-trainer.js';
import { NotificationError, parseNotification, type Notification } from './notification.js';

const MAX_NOTIFICATION_BYTES = 64 * 1024;

export interface AgentLog {
  (level: 'info' | 'error', message: string): void;
}

export class FlAgent {
  private server: Server | undefined;
  private queue: Promise<void> = Promise.resolve();
  private client: CoordinatorChannel;
  private link: BrokerLink | undefined;
  private readonly tokenDigest: Buffer;
  private finishedResolve!: () => void;
  /** Resolves once TRAINING_FINISHED arrived (main exits then). */
  readonly finished: Promise<void>;

  constructor(
    private readonly config: AgentConfig,
    private readonly shard: Dataset,
    private readonly log: AgentLog = () => {},
    /** The client's own held-out rows (config `testDataPath`). */
    private readonly testShard?: Dataset,
  ) {
    this.client = new CoordinatorClient(config.coordinatorUrl, config.token, config.owner);
    this.tokenDigest = createHash('sha256').update(config.token).digest();
    this.finished = new Promise((resolve) => (this.finishedResolve = resolve));
  }

  /** Listens for notifications: the HTTP port (returned), or the broker queue (0 is returned). */
  async start(): Promise<number> {
    if (this.config.broker) {
      const link = await BrokerLink.connect(this.config.broker, this.config.token, this.config.owner);
      this.link = link;
      this.client = link;
      link.onLost((reason) => this.log('error', `broker connection lost: ${reason}`));
      await link.consume((n) => this.onBrokerNotification(n), (message) => this.log('error', message));
      return 0;
    }
    const server = createServer((req, res) => void this.handle(req, res));
    server.requestTimeout = 10_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.listenPort, this.config.listenHost, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /** Stops listening; waits for the running trainer task. */
  async stop(): Promise<void> {
    await this.link?.close();
    this.link = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.queue;
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    return h.startsWith('Bearer ') && this.tokenMatches(h.slice(7));
  }

  /** The coordinator presents the client's token with every notification, on either channel. */
  private tokenMatches(presented: string | undefined): boolean {
    if (presented === undefined) return false;
    return timingSafeEqual(createHash('sha256').update(presented).digest(), this.tokenDigest);
  }

  /** A broker message: same checks and actions as an HTTP notification; round notifications bring their model. */
  private onBrokerNotification(m: IncomingNotification): void {
    if (!this.tokenMatches(m.token)) throw new NotificationError('bad or missing bearer token');
    const n = parseNotification(m.raw);
    if ('globalModelUuid' in n && m.model) this.link?.rememberModel(n.globalModelUuid, m.model);
    if (this.act(n) === 'other training') throw new NotificationError('notification for another training');
  }

  /** What a valid notification starts; shared by both channels. */
  private act(n: Notification): 'accepted' | 'finished' | 'other training' {
    if (n.trainingUuid !== this.config.trainingUuid) return 'other training';
    this.log('info', `notification ${n.type}${'round' in n ? ` round ${n.round}` : ''}`);
    switch (n.type) {
      case 'TRAINING_START':
        this.enqueue(() => this.client.postStatistics(n.trainingUuid, computeFeatureStatistics(this.shard), agentTrainerKind(this.config)), 'statistics');
        return 'accepted';
      case 'UPDATE_ROUND_START':
      case 'MODEL_TEST_ROUND': {
        const task: TrainerTask = { mode: n.type === 'UPDATE_ROUND_START' ? 'train' : 'test', trainingId: n.trainingUuid, round: n.round, modelId: n.globalModelUuid };
        this.enqueue(() => this.runTrainer(task), `${task.mode} round ${task.round}`);
        return 'accepted';
      }
      case 'TRAINING_FINISHED':
        this.finishedResolve();
        return 'finished';
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: Record<string, unknown>) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/health') return reply(200, { status: 'ready' });
      if (req.method !== 'POST' || (path !== '/notifications/' && path !== '/')) return reply(404, { error: 'not found' });
      if (!this.authorized(req)) return reply(401, { error: 'bad or missing bearer token' });
      let raw: unknown;
      try {
        raw = JSON.parse((await readBody(req, MAX_NOTIFICATION_BYTES)).toString('utf8'));
      } catch (e) {
        return reply(e instanceof BodyTooLarge ? 413 : 400, { error: e instanceof BodyTooLarge ? e.message : 'body is not JSON' });
      }
      let n: Notification;
      try {
        n = parseNotification(raw);
      } catch (e) {
        if (e instanceof NotificationError) return reply(400, { error: e.message });
        throw e;
      }
      const outcome = this.act(n);
      if (outcome === 'other training') return reply(409, { error: 'notification for another training' });
      return outcome === 'finished' ? reply(200, { status: 'finished' }) : reply(202, { status: 'accepted' });
    } catch (e) {
      this.log('error', `notification handling failed: ${(e as Error).message}`);
      if (!res.headersSent) reply(500, { error: 'internal error' });
    }
  }

  /** One task at a time, in arrival order; a failed task is logged (the coordinator's deadline covers it). */
  private enqueue(task: () => Promise<void>, what: string): void {
    this.queue = this.queue.then(task).then(
      () => this.log('info', `${what} done`),
      (e: Error) => this.log('error', `${what} failed: ${e.message}`),
    );
  }

  private runTrainer(task: TrainerTask): Promise<void> {
    if (this.config.fileTrainer) {
      // It reports failures, which only the HTTP channel carries (the config refuses a user trainer with the broker).
      if (!(this.client instanceof CoordinatorClient)) return Promise.reject(new Error('a user trainer needs the HTTP channel'));
      return runFileTrainer(task, { trainer: this.config.fileTrainer, dataPath: this.config.dataPath, ...(this.config.testDataPath ? { testDataPath: this.config.testDataPath } : {}), shardSize: this.shard.count, hyperparameters: this.config.hyperparameters, client: this.client });
    }
    const t = this.config.trainer;
    if (!t) return runBuiltinTrainer(task, this.shard, this.config.hyperparameters, this.client, this.testShard);
    return new Promise((resolve, reject) => {
      const args = [t.script, task.mode, '--training-id', task.trainingId, '--round', String(task.round), '--model-id', task.modelId];
      const child = spawn(t.executor, args, {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: {
          ...process.env,
          ANWEDDOL_FL_COORDINATOR_URL: this.config.coordinatorUrl,
          ANWEDDOL_FL_TOKEN: this.config.token,
          ANWEDDOL_FL_OWNER: this.config.owner,
          ANWEDDOL_FL_DATA: this.config.dataPath,
          ...(this.config.testDataPath ? { ANWEDDOL_FL_TEST_DATA: this.config.testDataPath } : {}),
          ANWEDDOL_FL_HYPERPARAMETERS: JSON.stringify(this.config.hyperparameters),
        },
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), t.timeoutSeconds * 1000);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`trainer exited with ${signal ?? `code ${code}`}`));
      });
    });
  }
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new BodyTooLarge(`body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
