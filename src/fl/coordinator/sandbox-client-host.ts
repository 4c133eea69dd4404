// Agents in sandboxes: one sandbox per client via the VirtualizationInterface, shard and config copied in, agent started detached.
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Logger } from '../../shared/logger.js';
import { silentLogger } from '../../shared/logger.js';
import { DeadlineScheduler } from '../../server/lifetimes/deadline-scheduler.js';
import type { DestroyReason, FlSandboxMark } from '../../server/server-events.js';
import type { Sandbox, SandboxEndReason, VirtualizationInterface } from '../../virtualization/virtualization-interface.js';
import type { AgentConfig } from '../agent/agent-config.js';
import { formatCsvDataset } from '../data/parse-csv-dataset.js';
import type { AgentLaunch, ClientHost, LaunchedClient } from './client-host.js';

export const FL_TRAINING_LABEL = 'anweddol.fl.training';
export const FL_CLIENT_LABEL = 'anweddol.fl.client';

/** Announces FL sandboxes through the server's `created_container` / `destroyed_container` (`AnweddolServer.announceSandbox*`). */
export interface SandboxAnnouncer {
  /** Resolves to the veto of a hook: the sandbox is then destroyed and the client fails to launch. */
  created(sandbox: Sandbox, fl: FlSandboxMark): Promise<{ refused: boolean; reason?: string }>;
  destroyed(sandbox: Sandbox, fl: FlSandboxMark, reason: DestroyReason): Promise<void>;
}

export interface SandboxClientHostOptions {
  virtualization: VirtualizationInterface;
  /** Takes one server capacity slot per sandbox (`AnweddolServer.reserveSandboxSlot`); undefined = full. */
  reserveSlot?: (sandboxUuid: string) => { release(): void } | undefined;
  /** Absent: FL sandboxes are not announced (a coordinator used without a server). */
  announcer?: SandboxAnnouncer;
  /** Where the image carries the agent bundle. */
  agentPath?: string;
  workDir?: string;
  agentPort?: number;
  /** Address every sandbox reaches the coordinator at (`fl.advertise_address`), instead of the bridge gateway. */
  advertiseAddress?: string;
  logger?: Logger;
}

export class SandboxClientHost implements ClientHost {
  readonly kind = 'sandbox' as const;
  private readonly agentPath: string;
  private readonly workDir: string;
  private readonly agentPort: number;
  private readonly log: Logger;
  /** One timer for every sandbox's deadline, as for clients' sandboxes; the key is the sandbox's expiry. */
  private readonly deadlines = new DeadlineScheduler<() => void>((expire) => expire());

  constructor(private readonly options: SandboxClientHostOptions) {
    this.agentPath = options.agentPath ?? '/opt/anweddol/fl-agent/agent.mjs';
    this.workDir = options.workDir ?? '/opt/anweddol/fl-work';
    this.agentPort = options.agentPort ?? 6161;
    this.log = options.logger ?? silentLogger;
  }

  /** Where agents reach the coordinator: the advertised address, else the sandbox bridge's gateway. */
  private gateway(): string {
    const g = this.options.advertiseAddress ?? this.options.virtualization.gatewayAddress();
    if (!g) throw new Error('the sandbox network gateway is not known (backend not started?; on a swarm set fl.advertise_address)');
    return g;
  }

  listenAddresses(): string[] {
    return ['127.0.0.1', this.gateway()];
  }

  coordinatorUrl(port: number): string {
    return `http://${this.gateway()}:${port}`;
  }

  async launch(launch: AgentLaunch, signal: AbortSignal): Promise<LaunchedClient> {
    const virt = this.options.virtualization;
    const sandboxUuid = randomUUID();
    const slot = this.options.reserveSlot ? this.options.reserveSlot(sandboxUuid) : { release: () => {} };
    if (!slot) throw new Error('server sandbox capacity reached');
    const mark: FlSandboxMark = { training_uuid: launch.trainingUuid, client_id: launch.clientId, expires_at: launch.expiresAt === undefined ? null : Math.floor(launch.expiresAt / 1000) };
    const announcer = this.options.announcer;
    let sandbox: Sandbox | undefined;
    let vetoed = false;
    try {
      sandbox = await virt.create({
        uuid: sandboxUuid,
        username: `user_${randomInt(10000, 100000)}`,
        password: randomBytes(16).toString('hex'),
        labels: { [FL_TRAINING_LABEL]: launch.trainingUuid, [FL_CLIENT_LABEL]: launch.clientId },
        publishPorts: [this.agentPort],
      }, signal);
      if (!sandbox.ipAddress && !sandbox.publishedPorts?.[this.agentPort]) throw new Error('the sandbox has no address on the private network');
      const config: AgentConfig = {
        trainingUuid: launch.trainingUuid,
        owner: launch.clientId,
        token: launch.token,
        coordinatorUrl: launch.coordinatorUrl,
        listenHost: '0.0.0.0',
        listenPort: this.agentPort,
        dataPath: `${this.workDir}/shard.csv`,
        ...(launch.testShard ? { testDataPath: `${this.workDir}/test.csv` } : {}),
        hyperparameters: launch.hyperparameters,
        ...(launch.trainer ? { trainer: launch.trainer } : {}),
        ...(launch.trainerBundle ? { fileTrainer: { dir: `${this.workDir}/trainer`, workDir: `${this.workDir}/rounds`, timeoutSeconds: launch.trainerBundle.timeoutSeconds } } : {}),
        ...(launch.broker ? { broker: launch.broker } : {}),
      };
      await virt.putFiles(sandbox.id, this.workDir, [
        { name: 'config.json', content: Buffer.from(JSON.stringify(config)), mode: 0o600 },
        { name: 'shard.csv', content: Buffer.from(formatCsvDataset(launch.shard)), mode: 0o644 },
        ...(launch.testShard ? [{ name: 'test.csv', content: Buffer.from(formatCsvDataset(launch.testShard)), mode: 0o644 }] : []),
        // The backend's copy refuses absolute and `..` names; the bundle holds regular files only (trainer-bundle.ts).
        ...(launch.trainerBundle?.bundle.files.map((f) => ({ name: `trainer/${f.name}`, content: f.content, mode: f.mode })) ?? []),
      ]);
      signal.throwIfAborted();
      // Started in the background by a short attached exec (a detached docker exec leaves its HTTP stream open).
      const agentCommand = `setsid node ${this.agentPath} --config ${this.workDir}/config.json >>${this.workDir}/agent.log 2>&1 </dev/null &`;
      const started = await virt.exec(sandbox.id, ['sh', '-c', agentCommand], { timeoutMs: 15_000 });
      if (started.exitCode !== 0) throw new Error(`starting the agent failed: ${started.stderr.trim().slice(0, 200)}`);
      // Announced once ready, as a client's sandbox is; a veto ends it here.
      const veto = await announcer?.created(sandbox, mark);
      if (veto?.refused === true) {
        vetoed = true;
        throw new Error(`refused by a created_container hook${veto.reason === undefined ? '' : ` (${veto.reason})`}`);
      }
    } catch (e) {
      if (sandbox) await virt.destroy(sandbox.id).catch((err: Error) => this.log.error(`FL: cleanup of sandbox ${sandbox!.id.slice(0, 12)} failed: ${err.message}`));
      if (sandbox && vetoed) await announcer?.destroyed(sandbox, mark, 'vetoed');
      slot.release();
      throw e;
    }
    const box = sandbox;
    let destroyed = false;
    let ended: ((reason: string) => void) | undefined;
    // Whichever comes first, the backend's report or our destroy, is the one end announced.
    let endAnnounced = false;
    const announceEnd = async (reason: DestroyReason) => {
      if (endAnnounced) return;
      endAnnounced = true;
      await announcer?.destroyed(box, mark, reason);
    };
    const onEnded = (s: { id: string; reason: SandboxEndReason }) => {
      if (s.id !== box.id || destroyed) return;
      virt.off('sandbox_ended', onEnded);
      this.deadlines.delete(expire);
      slot.release();
      void announceEnd(s.reason);
      ended?.(s.reason);
    };
    /** Our own destroy (the training's end, or its deadline), once: a second call waits for the first. */
    let destroying: Promise<void> | undefined;
    const destroy = (reason: DestroyReason): Promise<void> => {
      destroying ??= (async () => {
        destroyed = true;
        virt.off('sandbox_ended', onEnded);
        this.deadlines.delete(expire);
        try {
          await virt.destroy(box.id);
        } finally {
          slot.release();
        }
        await announceEnd(reason);
      })();
      return destroying;
    };
    // The training overran its deadline: the sandbox goes as an expired client sandbox does, and the training loses the client.
    const expire = () => {
      // Marked destroyed at once, then the training hears of it: it drops the client now, not after dockerd's removal.
      const destroying = destroy('expired');
      ended?.('expired');
      destroying.catch((e: Error) => this.log.error(`FL: destroying expired sandbox ${box.id.slice(0, 12)} failed: ${e.message}`));
    };
    virt.on('sandbox_ended', onEnded);
    if (launch.expiresAt !== undefined) this.deadlines.set(expire, launch.expiresAt);
    return {
      agentUrl: agentUrl(box, this.agentPort),
      sandboxUuid: box.uuid,
      onEnded: (l) => (ended = l),
      destroy: () => destroy('training_ended'),
    };
  }
}

/** The agent on the sandbox's private address, or where the backend published it (a swarm node's address and port). */
function agentUrl(sandbox: Sandbox, agentPort: number): string {
  const published = sandbox.publishedPorts?.[agentPort];
  return published === undefined ? `http://${sandbox.ipAddress}:${agentPort}` : `http://${published.host}:${published.port}`;
}
