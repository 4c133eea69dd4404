// The agent's HTTP client for the coordinator API (Node built-ins only: global fetch, FormData, Blob).
import type { FeatureStatistics } from '../data/standardizer.js';
import type { AgentTrainerKind } from './agent-config.js';

export interface Metrics {
  [name: string]: number;
}

/** What the trainer and the agent need from the coordinator, whatever carries it (HTTP here, the broker in broker-link.ts). */
export interface CoordinatorChannel {
  readonly owner: string;
  downloadModel(modelUuid: string): Promise<Uint8Array>;
  uploadModel(baseModelUuid: string, update: ModelUpdate): Promise<void>;
  postMetrics(modelUuid: string, round: number, metrics: Metrics): Promise<void>;
  postStatistics(trainingUuid: string, stats: FeatureStatistics, trainer: AgentTrainerKind): Promise<void>;
}

export interface ModelUpdate {
  round: number;
  sampleSize: number;
  metrics: Metrics;
  file: Uint8Array;
}

/** The fields of an update besides its model file, as the HTTP form and the broker headers carry them. */
export function updateFields(owner: string, update: ModelUpdate): Record<string, string> {
  return {
    owner,
    round: String(update.round),
    sample_size: String(update.sampleSize),
    metric_names: JSON.stringify(Object.keys(update.metrics)),
    metric_values: JSON.stringify(Object.values(update.metrics)),
  };
}

/** The JSON body of a test round's answer. */
export function metricsBody(owner: string, round: number, metrics: Metrics): string {
  return JSON.stringify({ owner, round, metric_names: Object.keys(metrics), metric_values: Object.values(metrics) });
}

export class CoordinatorClient implements CoordinatorChannel {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    readonly owner: string,
    private readonly timeoutMs = 30_000,
  ) {}

  private async request(path: string, init: RequestInit): Promise<Response> {
    const res = await fetch(new URL(path, this.baseUrl), {
      ...init,
      headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!res.ok) {
      const text = (await res.text()).slice(0, 300);
      throw new Error(`coordinator answered ${res.status} to ${init.method ?? 'GET'} ${path}: ${text}`);
    }
    return res;
  }

  async downloadModel(modelUuid: string): Promise<Uint8Array> {
    const res = await this.request(`/api/models/${modelUuid}/`, { method: 'GET' });
    return new Uint8Array(await res.arrayBuffer());
  }

  async uploadModel(baseModelUuid: string, update: ModelUpdate): Promise<void> {
    const form = new FormData();
    for (const [k, v] of Object.entries(updateFields(this.owner, update))) form.set(k, v);
    form.set('model_file', new Blob([update.file]), 'model.safetensors');
    await this.request(`/api/models/${baseModelUuid}/`, { method: 'POST', body: form });
  }

  async postMetrics(modelUuid: string, round: number, metrics: Metrics): Promise<void> {
    await this.request(`/api/models/${modelUuid}/metrics/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: metricsBody(this.owner, round, metrics),
    });
  }

  /** `trainer` tells the coordinator which trainer this agent runs, so an agent that cannot run a user trainer is caught before round 1. */
  async postStatistics(trainingUuid: string, stats: FeatureStatistics, trainer: AgentTrainerKind): Promise<void> {
    await this.request(`/api/trainings/${trainingUuid}/statistics/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ owner: this.owner, trainer, ...stats }),
    });
  }

  /** Tells the coordinator this client gives no answer this round, and why (the trainer failed). */
  async reportFailure(modelUuid: string, round: number, reason: string): Promise<void> {
    await this.request(`/api/models/${modelUuid}/failure/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ owner: this.owner, round, reason }),
    });
  }
}
