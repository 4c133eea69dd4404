// The agent's HTTP client for the coordinator API (Node built-ins only: global fetch, FormData, Blob).
import type { FeatureStatistics } from '../data/standardizer.js';
import type { AgentTrainerKind } from './agent-config.js';

export interface Metrics {
  [name: string]: number;
}

export class CoordinatorClient {
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

  async uploadModel(baseModelUuid: string, update: { round: number; sampleSize: number; metrics: Metrics; file: Uint8Array }): Promise<void> {
    const form = new FormData();
    form.set('owner', this.owner);
    form.set('round', String(update.round));
    form.set('sample_size', String(update.sampleSize));
    form.set('metric_names', JSON.stringify(Object.keys(update.metrics)));
    form.set('metric_values', JSON.stringify(Object.values(update.metrics)));
    form.set('model_file', new Blob([update.file]), 'model.safetensors');
    await this.request(`/api/models/${baseModelUuid}/`, { method: 'POST', body: form });
  }

  async postMetrics(modelUuid: string, round: number, metrics: Metrics): Promise<void> {
    await this.request(`/api/models/${modelUuid}/metrics/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ owner: this.owner, round, metric_names: Object.keys(metrics), metric_values: Object.values(metrics) }),
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
