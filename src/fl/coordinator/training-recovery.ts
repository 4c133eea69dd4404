// Trainings across daemon restarts: a stop or crash leaves them interrupted; they are revived from the store, or cancelled there.
import type { FlStore } from '../../database/fl-store.js';
import type { Logger } from '../../shared/logger.js';
import { loadTrainerBundle, TrainerBundleError, type TrainerBundle } from './trainer-bundle.js';
import { normalizeTrainingRequest, type TrainingRequestInput } from './training-request.js';
import { TrainingRun } from './training-run.js';

/** The daemon stopping: running trainings become interrupted (resumable), not cancelled. */
export class CoordinatorStopping extends Error {
  constructor() {
    super('the daemon stopped during the training');
  }
}

/** An admin request about a training that does not exist or is in the wrong state for it. */
export class TrainingControlError extends Error {
  override name = 'TrainingControlError';
}

/** Trainings a dead daemon left running become interrupted; with `resumeOnStart` every interrupted one is resumed. */
export function recoverTrainings(store: FlStore, resumeOnStart: boolean, resume: (uuid: string) => void, log: Logger): void {
  for (const uuid of store.unfinishedTrainings()) store.setTrainingStatus(uuid, 'interrupted', new CoordinatorStopping().message);
  if (!resumeOnStart) return;
  for (const uuid of store.interruptedTrainings()) {
    try {
      resume(uuid);
    } catch (e) {
      // Not resumable (data given in memory, a request that no longer validates): it ends here with the reason.
      store.setTrainingStatus(uuid, 'failed', `cannot resume: ${(e as Error).message}`);
      log.error(`FL training ${uuid} cannot resume: ${(e as Error).message}`);
    }
  }
}

/** A new run of an interrupted training, from its stored request; the store counts the resume. */
export function reviveTraining(store: FlStore, uuid: string): TrainingRun {
  const t = store.getTraining(uuid);
  if (!t) throw new TrainingControlError(`no training ${uuid}`);
  if (t.status !== 'interrupted') throw new TrainingControlError(`training ${uuid} is ${t.status}: only an interrupted training can resume`);
  const input = store.resumableRequest(uuid);
  if (!input) throw new TrainingControlError(`training ${uuid} was given its data in memory and cannot resume`);
  const request = normalizeTrainingRequest(input as unknown as TrainingRequestInput);
  // The trainer directory is read again (the sandboxes are new); one that became unreadable leaves the training interrupted.
  const trainerBundle = request.trainerDir === undefined ? undefined : loadResumeTrainer(uuid, request.trainerDir);
  if (!store.markResumed(uuid)) throw new TrainingControlError(`training ${uuid} is no longer interrupted`);
  const run = new TrainingRun(uuid, request, t.resumed + 1, trainerBundle);
  run.lateUpdatesDiscarded = t.lateUpdatesDiscarded;
  return run;
}

function loadResumeTrainer(uuid: string, dir: string): TrainerBundle {
  try {
    return loadTrainerBundle(dir);
  } catch (e) {
    if (e instanceof TrainerBundleError) throw new TrainingControlError(`training ${uuid}: ${e.message}`);
    throw e;
  }
}

/** Cancels a training no process runs: only an interrupted one can be. */
export function cancelInterruptedTraining(store: FlStore, uuid: string): void {
  const t = store.getTraining(uuid);
  if (!t) throw new TrainingControlError(`no training ${uuid}`);
  if (t.status !== 'interrupted') throw new TrainingControlError(`training ${uuid} is already ${t.status}`);
  store.setTrainingStatus(uuid, 'cancelled', 'cancelled while interrupted');
}
