// Agents as HTTP servers on 127.0.0.1 inside this process: no Docker (fast tests, benchmark baseline).
import { FlAgent } from '../agent/fl-agent.js';
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
    const agent = new FlAgent(
      {
        trainingUuid: launch.trainingUuid,
        owner: launch.clientId,
        token: launch.token,
        coordinatorUrl: launch.coordinatorUrl,
        listenHost: '127.0.0.1',
        listenPort: 0,
        dataPath: '(in memory)',
        hyperparameters: launch.hyperparameters,
        ...(launch.trainer ? { trainer: launch.trainer } : {}),
      },
      launch.shard,
    );
    const port = await agent.start();
    let ended: ((reason: string) => void) | undefined;
    let alive = true;
    const client: InProcessClient = {
      launch,
      agentUrl: `http://127.0.0.1:${port}`,
      onEnded: (l) => (ended = l),
      destroy: async () => {
        alive = false;
        await agent.stop();
      },
      kill: async () => {
        if (!alive) return;
        alive = false;
        await agent.stop();
        ended?.('killed');
      },
    };
    this.clients.push(client);
    return client;
  }
}
