// Agents as HTTP servers on 127.0.0.1 inside this process: no Docker (fast tests, benchmark baseline).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FlAgent } from '../agent/fl-agent.js';
import { formatCsvDataset } from '../data/parse-csv-dataset.js';
import type { AgentLaunch, ClientHost, LaunchedClient } from './client-host.js';

export interface InProcessClient extends LaunchedClient {
  readonly launch: AgentLaunch;
  /** Simulates the environment dying: the agent stops and the ended listener fires. */
  kill(): Promise<void>;
}

export class InProcessClientHost implements ClientHost {
  readonly kind = 'in-process' as const;
  /** Every client launched, for tests (tokens included: never log them). */
  readonly clients: InProcessClient[] = [];

  listenAddresses(): string[] {
    return ['127.0.0.1'];
  }

  coordinatorUrl(port: number): string {
    return `http://127.0.0.1:${port}`;
  }

  async launch(launch: AgentLaunch, signal: AbortSignal): Promise<LaunchedClient> {
    signal.throwIfAborted();
    // An external trainer reads the shard from a file, as in a sandbox.
    const dir = launch.trainer || launch.trainerBundle ? mkdtempSync(join(tmpdir(), 'fl-client-')) : undefined;
    const dataPath = dir ? join(dir, 'shard.csv') : '(in memory)';
    if (dir) writeFileSync(dataPath, formatCsvDataset(launch.shard));
    const testDataPath = dir && launch.testShard ? join(dir, 'test.csv') : undefined;
    if (testDataPath) writeFileSync(testDataPath, formatCsvDataset(launch.testShard!));
    if (dir && launch.trainerBundle) {
      for (const f of launch.trainerBundle.bundle.files) {
        const path = join(dir, 'trainer', f.name);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, f.content, { mode: f.mode });
      }
    }
    const removeDir = () => dir && rmSync(dir, { recursive: true, force: true });
    const agent = new FlAgent(
      {
        trainingUuid: launch.trainingUuid,
        owner: launch.clientId,
        token: launch.token,
        coordinatorUrl: launch.coordinatorUrl,
        listenHost: '127.0.0.1',
        listenPort: 0,
        dataPath,
        ...(testDataPath ? { testDataPath } : {}),
        hyperparameters: launch.hyperparameters,
        ...(launch.trainer ? { trainer: launch.trainer } : {}),
        ...(dir && launch.trainerBundle ? { fileTrainer: { dir: join(dir, 'trainer'), workDir: join(dir, 'rounds'), timeoutSeconds: launch.trainerBundle.timeoutSeconds } } : {}),
        ...(launch.broker ? { broker: launch.broker } : {}),
      },
      launch.shard,
      undefined,
      launch.testShard,
    );
    let port: number;
    try {
      port = await agent.start();
    } catch (e) {
      removeDir();
      throw e;
    }
    let ended: ((reason: string) => void) | undefined;
    let alive = true;
    const client: InProcessClient = {
      launch,
      agentUrl: `http://127.0.0.1:${port}`,
      onEnded: (l) => (ended = l),
      destroy: async () => {
        alive = false;
        await agent.stop();
        removeDir();
      },
      kill: async () => {
        if (!alive) return;
        alive = false;
        // Reported before the agent goes, as a backend reports a dead sandbox: a notification racing the stop would
        // otherwise drop the client as unreachable instead of killed.
        ended?.('killed');
        await agent.stop();
        removeDir();
      },
    };
    this.clients.push(client);
    return client;
  }
}
