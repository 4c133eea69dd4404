// Global models of every round (files under fl.data_dir, rows in the FL store, bytes in memory while training), each client's latest update, and the server optimizer's state.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlStore, RoundResult } from '../../database/fl-store.js';
import type { ModelSpec } from '../model/classifier.js';
import { decodeModelFile, encodeModelFile, type ModelFile } from '../model/model-file.js';
import { decodeSafetensors } from '../model/safetensors.js';
import { decodeOptimizerState, encodeOptimizerState } from '../strategy/optimizer-state-file.js';
import type { OptimizerState } from '../strategy/fed-opt.js';

export interface StoredModel {
  round: number;
  bytes: Buffer;
}

export interface StoredClientUpdate {
  clientId: string;
  round: number;
  bytes: Buffer;
}

/** `update-<client id>.safetensors` in the training's folder: one file per client, replaced by its next update. */
const UPDATE_FILE = /^update-(client-[0-9]{1,6})\.safetensors$/;
const TRAINING_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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
    const path = join(this.trainingDir(trainingUuid), `round-${round}.safetensors`);
    writeFileSync(path, bytes, { mode: 0o640 });
    let models = this.live.get(trainingUuid);
    if (!models) this.live.set(trainingUuid, (models = new Map()));
    models.set(uuid, { round, bytes });
    this.store?.startRound({ trainingUuid, round, globalModelUuid: uuid, modelPath: path, clients });
    return uuid;
  }

  /**
   * Serves a round's stored global model again (a resumed training) under its recorded uuid, without recording the round anew.
   * Throws when the round or its file is missing, or the file does not hold a model of `spec`.
   */
  reload(trainingUuid: string, round: number, spec: ModelSpec): { modelUuid: string; model: ModelFile } {
    const row = this.store?.rounds(trainingUuid).find((r) => r.round === round);
    if (!row) throw new Error(`no model for round ${round} of training ${trainingUuid}`);
    const bytes = readFileSync(row.modelPath);
    const model = decodeModelFile(bytes, spec);
    let models = this.live.get(trainingUuid);
    if (!models) this.live.set(trainingUuid, (models = new Map()));
    models.set(row.globalModelUuid, { round, bytes });
    return { modelUuid: row.globalModelUuid, model };
  }

  /**
   * Keeps a client's accepted update as its latest (the inspector's per-client weights), replacing the one before:
   * bounded to one file per client, in the training's folder with its round models. Written whole, then renamed,
   * so a download never reads half a file.
   */
  keepClientUpdate(trainingUuid: string, clientId: string, round: number, model: Omit<ModelFile, 'metadata'>): void {
    const name = `update-${clientId}.safetensors`;
    if (!UPDATE_FILE.test(name)) throw new Error(`client id ${JSON.stringify(clientId)} cannot name a file`);
    const bytes = encodeModelFile({ ...model, metadata: { training_uuid: trainingUuid, round: String(round), owner: clientId } });
    const path = join(this.trainingDir(trainingUuid), name);
    writeFileSync(`${path}.partial`, bytes, { mode: 0o640 });
    renameSync(`${path}.partial`, path);
  }

  /** The latest update of each client of a training, by client id; none before its first round (or for an unknown training). */
  clientUpdates(trainingUuid: string): StoredClientUpdate[] {
    if (!TRAINING_UUID.test(trainingUuid)) return [];
    const dir = join(this.dataDir, trainingUuid);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return names
      .map((name) => UPDATE_FILE.exec(name)?.[1])
      .filter((clientId): clientId is string => clientId !== undefined)
      .map((clientId) => {
        const bytes = readFileSync(join(dir, `update-${clientId}.safetensors`));
        return { clientId, round: Number(decodeSafetensors(bytes).metadata.round), bytes };
      })
      .sort((a, b) => a.clientId.localeCompare(b.clientId, 'en', { numeric: true }));
  }

  /** Records the round's held-out result together with the optimizer state it produced (none for stateless strategies). */
  finishRound(trainingUuid: string, round: number, result: RoundResult, optimizer: OptimizerState | null): void {
    this.store?.finishRound(trainingUuid, round, result, optimizer && optimizer.step > 0 ? encodeOptimizerState(optimizer) : null);
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

  /** The optimizer state stored after the training's last aggregated round, if any. */
  loadOptimizerState(trainingUuid: string): { round: number; state: OptimizerState } | undefined {
    const row = this.store?.optimizerState(trainingUuid);
    return row && { round: row.round, state: decodeOptimizerState(row.state) };
  }

  private trainingDir(trainingUuid: string): string {
    const dir = join(this.dataDir, trainingUuid);
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    return dir;
  }
}
