// Global models of every round (files under fl.data_dir, rows in the FL store, bytes in memory while training) and the server optimizer's state.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlStore } from '../../database/fl-store.js';
import { encodeModelFile, type ModelFile } from '../model/model-file.js';
import { decodeOptimizerState, encodeOptimizerState } from '../strategy/optimizer-state-file.js';
import type { OptimizerState } from '../strategy/fed-opt.js';

export interface StoredModel {
  round: number;
  bytes: Buffer;
}

export class ModelStore {
  /** training uuid → global model uuid → model; only for trainings this process runs. */
  private readonly live = new Map<string, Map<string, StoredModel>>();

  constructor(
    private readonly dataDir: string,
    private readonly store?: FlStore,
  ) {}

  /** Writes the round's global model, records the round as started, and returns the model's uuid. */
  publish(trainingUuid: string, round: number, model: Omit<ModelFile, 'metadata'>, clients: number): string {
    const uuid = randomUUID();
    const bytes = encodeModelFile({ ...model, metadata: { training_uuid: trainingUuid, round: String(round) } });
    const dir = join(this.dataDir, trainingUuid);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    const path = join(dir, `round-${round}.safetensors`);
    writeFileSync(path, bytes, { mode: 0o640 });
    let models = this.live.get(trainingUuid);
    if (!models) this.live.set(trainingUuid, (models = new Map()));
    models.set(uuid, { round, bytes });
    this.store?.startRound({ trainingUuid, round, globalModelUuid: uuid, modelPath: path, clients });
    return uuid;
  }

  /** A model of a running training, by uuid (what agents download). */
  get(trainingUuid: string, modelUuid: string): StoredModel | undefined {
    return this.live.get(trainingUuid)?.get(modelUuid);
  }

  /** The model of `round` (default: the last one), from memory while training, else from its file. */
  find(trainingUuid: string, round?: number): StoredModel {
    const live = [...(this.live.get(trainingUuid)?.values() ?? [])].filter((m) => round === undefined || m.round === round);
    const pick = live.sort((a, b) => b.round - a.round)[0];
    if (pick) return pick;
    const rows = this.store?.rounds(trainingUuid) ?? [];
    const r = rows.filter((x) => round === undefined || x.round === round).sort((a, b) => b.round - a.round)[0];
    if (!r) throw new Error(round === undefined ? `no model for training ${trainingUuid}` : `no model for round ${round} of training ${trainingUuid}`);
    return { round: r.round, bytes: readFileSync(r.modelPath) };
  }

  /** Drops a finished training's models from memory; files and rows stay. */
  forget(trainingUuid: string): void {
    this.live.delete(trainingUuid);
  }

  saveOptimizerState(trainingUuid: string, round: number, state: OptimizerState): void {
    this.store?.saveOptimizerState(trainingUuid, round, encodeOptimizerState(state));
  }

  /** The optimizer state stored after the training's last aggregated round, if any. */
  loadOptimizerState(trainingUuid: string): { round: number; state: OptimizerState } | undefined {
    const row = this.store?.optimizerState(trainingUuid);
    return row && { round: row.round, state: decodeOptimizerState(row.state) };
  }
}
