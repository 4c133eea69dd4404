// The built-in trainer: download the global model, train or evaluate on the local shard, report back.
import type { Dataset } from '../data/dataset.js';
import { standardize } from '../data/standardizer.js';
import { evaluate } from '../model/classifier.js';
import { decodeModelFile, encodeModelFile } from '../model/model-file.js';
import { trainLocal } from '../model/sgd.js';
import type { AgentHyperparameters } from './agent-config.js';
import type { CoordinatorChannel } from './coordinator-client.js';

export type TrainerMode = 'train' | 'test';

export interface TrainerTask {
  mode: TrainerMode;
  trainingId: string;
  round: number;
  modelId: string;
}

/** `testShard`: the client's own held-out rows, evaluated in test rounds instead of the training shard. */
export async function runBuiltinTrainer(task: TrainerTask, shard: Dataset, hyper: AgentHyperparameters, client: CoordinatorChannel, testShard?: Dataset): Promise<void> {
  const model = decodeModelFile(await client.downloadModel(task.modelId));
  if (task.mode === 'test') {
    const ev = evaluate(model.spec, model.params, standardize(testShard ?? shard, model.standardizer));
    await client.postMetrics(task.modelId, task.round, { accuracy: ev.accuracy, loss: ev.loss, samples: ev.count });
    return;
  }
  const local = standardize(shard, model.standardizer);
  const seed = roundSeed(hyper.seed, task.round, client.owner);
  const result = trainLocal(model.spec, model.params, local, { ...hyper, seed });
  const file = encodeModelFile({ ...model, params: result.params, metadata: { training_uuid: task.trainingId, round: String(task.round), owner: client.owner } });
  await client.uploadModel(task.modelId, { round: task.round, sampleSize: result.sampleSize, metrics: { train_loss: result.loss }, file });
}

/** Differs per client and round so clients do not shuffle in lockstep. */
export function roundSeed(seed: number, round: number, owner: string): number {
  return (seed * 1_000_003 + round * 7919 + hashOwner(owner)) | 0;
}

function hashOwner(owner: string): number {
  let h = 2166136261;
  for (let i = 0; i < owner.length; i++) h = Math.imul(h ^ owner.charCodeAt(i), 16777619);
  return h >>> 0;
}
