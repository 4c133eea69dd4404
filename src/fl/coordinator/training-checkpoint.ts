// Where an interrupted training starts again: its last completed round, that round's global model and the optimizer state after it.
import type { FlStore } from '../../database/fl-store.js';
import type { ModelSpec } from '../model/classifier.js';
import { initialOptimizerState, type OptimizerState } from '../strategy/fed-opt.js';
import type { ModelStore } from './model-store.js';
import { roundSummaryOf, type RoundSummary } from './training-run.js';

export interface TrainingCheckpoint {
  /** The last round whose result was recorded (0: only the initial model was evaluated). */
  round: number;
  modelUuid: string;
  params: Float32Array;
  optimizer: OptimizerState;
  initialAccuracy: number;
  /** Completed rounds 1..round, for the summary and the stop conditions. */
  rounds: RoundSummary[];
}

/** The checkpoint of a stored training, or undefined when not even round 0 completed (it starts from scratch). */
export function loadCheckpoint(store: FlStore, models: ModelStore, trainingUuid: string, spec: ModelSpec): TrainingCheckpoint | undefined {
  const done = store.rounds(trainingUuid).filter((r) => r.finishedAt !== null && r.accuracy !== null && r.loss !== null);
  const last = done.at(-1);
  if (!last) return undefined;
  // Rounds complete in order, so a gap means the store was edited by hand: refuse rather than train on a guess.
  if (done.some((r, i) => r.round !== i)) throw new Error(`training ${trainingUuid} has gaps in its recorded rounds`);
  const { modelUuid, model } = models.reload(trainingUuid, last.round, spec);
  const stored = models.loadOptimizerState(trainingUuid);
  // Stored state is written with its round's result, so it is either this round's or absent (a stateless strategy).
  if (stored && stored.round !== last.round) throw new Error(`training ${trainingUuid}: optimizer state is from round ${stored.round}, the last round is ${last.round}`);
  return {
    round: last.round,
    modelUuid,
    params: model.params,
    optimizer: stored?.state ?? initialOptimizerState(),
    initialAccuracy: done[0]!.accuracy!,
    rounds: done.slice(1).map(roundSummaryOf),
  };
}
