// What the server makes of the clients' test answers (Flower's aggregate_evaluate): accuracy and loss weighted by each client's test size (pure).

export interface ClientEvaluation {
  clientId: string;
  /** Rows the client evaluated, as the coordinator knows it (never the client's own claim, which could inflate its weight). */
  testSize: number;
  metrics: Record<string, number>;
}

export type EvaluateOutcome = { ok: true; accuracy: number; loss: number; clients: number } | { ok: false; reason: string };

/** Answers without a plausible accuracy (in [0, 1]) and loss (finite, ≥ 0) are left out, not trusted. */
export function aggregateEvaluate(results: readonly ClientEvaluation[]): EvaluateOutcome {
  const usable = results.filter((r) => {
    const { accuracy, loss } = r.metrics;
    return r.testSize > 0 && typeof accuracy === 'number' && accuracy >= 0 && accuracy <= 1 && typeof loss === 'number' && Number.isFinite(loss) && loss >= 0;
  });
  const total = usable.reduce((n, r) => n + r.testSize, 0);
  if (total === 0) return { ok: false, reason: 'no client reported usable test metrics' };
  let accuracy = 0;
  let loss = 0;
  for (const r of usable) {
    accuracy += (r.metrics.accuracy! * r.testSize) / total;
    loss += (r.metrics.loss! * r.testSize) / total;
  }
  return { ok: true, accuracy, loss, clients: usable.length };
}
