// Where FL agents run: in sandboxes (production) or as in-process HTTP servers (tests, benchmark baseline).
import type { AgentBrokerConfig, TrainerCommand, AgentHyperparameters } from '../agent/agent-config.js';
import type { Dataset } from '../data/dataset.js';
import type { TrainerBundle } from './trainer-bundle.js';

export interface AgentLaunch {
  trainingUuid: string;
  clientId: string;
  token: string;
  shard: Dataset;
  /** The client's own held-out rows, when test rounds evaluate client-side (per-client data without a shared test set). */
  testShard?: Dataset;
  hyperparameters: AgentHyperparameters;
  trainer?: TrainerCommand;
  /** User trainer directory to copy next to the agent, and its time limit per round. */
  trainerBundle?: { bundle: TrainerBundle; timeoutSeconds: number };
  /** Base URL of the coordinator API as the agent must reach it. */
  coordinatorUrl: string;
  /** The training's deadline (Unix ms): the client's environment ends then (reason `expired`) and its ended listener hears it. */
  expiresAt?: number;
  /** The broker channel (`fl.transport: rabbitmq`): the agent then listens on no port. */
  broker?: AgentBrokerConfig;
}

export interface LaunchedClient {
  /** Base URL the coordinator sends notifications to. */
  agentUrl: string;
  /** Sandbox uuid when the agent runs in a sandbox. */
  sandboxUuid?: string;
  /** Registers the listener called once if the client's environment ends without being asked to. */
  onEnded(listener: (reason: string) => void): void;
  /** Stops the agent and releases its environment; idempotent. */
  destroy(): Promise<void>;
}

export interface ClientHost {
  readonly kind: 'in-process' | 'sandbox';
  /** Addresses the coordinator API must listen on for these agents to reach it. */
  listenAddresses(): string[];
  /** The coordinator's base URL as seen from an agent, given the API port. */
  coordinatorUrl(port: number): string;
  launch(launch: AgentLaunch, signal: AbortSignal): Promise<LaunchedClient>;
}
