// A round's phases: ask the selected clients to fit or test a global model, collect their answers until the deadline, evaluate the round.
import type { Logger } from '../../shared/logger.js';
import type { Notification } from '../agent/notification.js';
import { evaluate } from '../model/classifier.js';
import { aggregateEvaluate } from '../strategy/aggregate-evaluate.js';
import { configureFit, type ClientUpdate, type FitFailure } from '../strategy/strategy.js';
import { RoundCollector } from './round-collector.js';
import type { ClientState, TrainingRun } from './training-run.js';

/** What the phases need from the coordinator: reaching a client (dropped when unreachable) and dropping a silent one. */
export interface PhaseClients {
  notify(run: TrainingRun, c: ClientState, n: Notification): Promise<boolean>;
  dropClient(run: TrainingRun, c: ClientState, reason: string): void;
  log: Logger;
}

export class RoundPhases {
  constructor(private readonly clients: PhaseClients) {}

  async fit(run: TrainingRun, round: number, modelUuid: string): Promise<{ updates: ClientUpdate[]; failures: FitFailure[]; reported: Map<string, string>; late: string[] }> {
    const r = run.request;
    const fit = configureFit(run.activeClients().map((c) => c.id), { fraction: r.fraction, overselect: r.overselect, minFitClients: r.minFitClients, seed: r.seed }, round);
    const { received, reported, late } = await this.collect<ClientUpdate>(run, fit.asked, 'fit', round, modelUuid, fit.aggregate);
    const failures = fit.asked.filter((id) => !received.has(id) && !late.includes(id)).map((id) => ({ clientId: id, reason: reported.get(id) ?? run.clients.get(id)?.dropReason ?? 'no update' }));
    for (const [id, reason] of reported) this.clients.log.warn(`FL training ${run.uuid}: client ${id} left out of round ${round} (${reason})`);
    if (late.length > 0) this.clients.log.info(`FL training ${run.uuid}: round ${round} aggregated the first ${received.size} updates; ${late.join(', ')} late (discarded)`);
    return { updates: [...received.values()], failures, reported, late };
  }

  /**
   * The test phase and the round's held-out accuracy and loss: from the coordinator's test set, or (per-client data without one)
   * the clients' answers on their own held-out rows, weighted by their sizes. Round 0 has a test phase only in the latter case.
   * Every active client evaluates, except this round's stragglers (`late`): still busy training, they would hold the round up.
   */
  async evaluate(
    run: TrainingRun, round: number, params: Float32Array, modelUuid: string, late: readonly string[] = [],
  ): Promise<{ accuracy: number; loss: number; clientMetrics: Record<string, Record<string, number>> }> {
    const selected = run.activeClients().map((c) => c.id).filter((id) => !late.includes(id));
    const central = run.test;
    const answers = central && round === 0 ? new Map<string, Record<string, number>>() : (await this.collect<Record<string, number>>(run, selected, 'test', round, modelUuid)).received;
    const clientMetrics = Object.fromEntries(answers);
    if (central) return { ...evaluate(run.spec, params, central), clientMetrics };
    const outcome = aggregateEvaluate([...answers].map(([clientId, metrics]) => ({ clientId, metrics, testSize: run.clients.get(clientId)!.testShard?.count ?? 0 })));
    if (!outcome.ok) throw new Error(`round ${round}: ${outcome.reason}`);
    return { accuracy: outcome.accuracy, loss: outcome.loss, clientMetrics };
  }

  /**
   * One phase of a round: notify the selected clients, collect until all answered or the deadline, drop the silent ones.
   * A client that reported a failure (`reported`, with its reason) stays in the training: it is only left out of this phase.
   */
  private async collect<T>(
    run: TrainingRun, selected: readonly string[], kind: 'fit' | 'test', round: number, modelUuid: string, enough = Infinity,
  ): Promise<{ received: Map<string, T>; reported: Map<string, string>; late: string[] }> {
    // A cancel or stop between phases found no collector to cancel: do not start one that would wait out the deadline.
    run.abort.signal.throwIfAborted();
    const collector = new RoundCollector<T>(selected, run.request.roundTimeoutSeconds * 1000, enough);
    const reported = new Map<string, string>();
    run.phase = { kind, round, modelUuid, collector: collector as RoundCollector<unknown>, failures: reported };
    const type = kind === 'fit' ? 'UPDATE_ROUND_START' : 'MODEL_TEST_ROUND';
    await Promise.all(selected.map((id) => this.clients.notify(run, run.clients.get(id)!, { type, trainingUuid: run.uuid, round, globalModelUuid: modelUuid })));
    const result = await collector.done;
    run.phase = undefined;
    run.abort.signal.throwIfAborted();
    // Closed by the first `enough` answers: the others are stragglers (over-selection), not silent clients.
    if (!result.timedOut && result.received.size >= enough) return { received: result.received, reported, late: result.missing };
    const what = kind === 'fit' ? 'update' : 'metrics';
    for (const id of result.missing) this.clients.dropClient(run, run.clients.get(id)!, `no ${what} before the round ${round} deadline`);
    return { received: result.received, reported, late: [] };
  }
}
