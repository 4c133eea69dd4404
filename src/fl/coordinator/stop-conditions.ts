// Conditions that end a training before its last round: a target accuracy reached, or no improvement for `patience` rounds (pure).

export interface StopConditions {
  /** Held-out accuracy in (0, 1] that ends the training as soon as a round reaches it. */
  targetAccuracy: number | null;
  /** Rounds without a new best accuracy after which the training ends. */
  patience: number | null;
}

export type StopDecision =
  | { condition: 'target_accuracy'; event: 'fl_target_reached'; message: string; payload: Record<string, number> }
  | { condition: 'patience'; event: 'fl_patience_exhausted'; message: string; payload: Record<string, number> };

/** `accuracies[i]` is the held-out accuracy after round i + 1; the decision is about the last one. */
export function checkStopConditions(accuracies: readonly number[], conditions: StopConditions): StopDecision | undefined {
  const round = accuracies.length;
  if (round === 0) return undefined;
  const last = accuracies[round - 1]!;
  if (conditions.targetAccuracy !== null && last >= conditions.targetAccuracy) {
    return { condition: 'target_accuracy', event: 'fl_target_reached', message: 'target reached', payload: { round, accuracy: last, target_accuracy: conditions.targetAccuracy } };
  }
  if (conditions.patience !== null) {
    // The first round reaching the best accuracy counts as the improvement; ties are not improvements.
    let bestRound = 1;
    for (let r = 2; r <= round; r++) if (accuracies[r - 1]! > accuracies[bestRound - 1]!) bestRound = r;
    if (round - bestRound >= conditions.patience) {
      return {
        condition: 'patience',
        event: 'fl_patience_exhausted',
        message: `no improvement for ${conditions.patience} round(s)`,
        payload: { round, best_round: bestRound, best_accuracy: accuracies[bestRound - 1]!, patience: conditions.patience },
      };
    }
  }
  return undefined;
}
