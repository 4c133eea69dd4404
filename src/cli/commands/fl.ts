// `fl train|status|join|export|resume|cancel`: federated-learning trainings run by the daemon's coordinator (admin channel).
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../cli-output.js';
import { ProgressBar, wantsProgressBar } from '../progress.js';
import { callDaemon, describeCommand, runCommand, type CommandContext, type CommandRegistrar, type CommonOptions } from '../command-kit.js';
import type { TrainingSummary } from '../../fl/coordinator/fl-coordinator.js';

interface TrainOptions extends CommonOptions {
  clients?: string;
  rounds: string;
  model: string;
  dataset?: string;
  clientData?: string[];
  testData?: string;
  split?: string;
  localEpochs: string;
  lr: string;
  minClients?: string;
  roundTimeout: string;
  mu: string;
  strategy?: string;
  serverLr?: string;
  beta1?: string;
  beta2?: string;
  tau?: string;
  serverMomentum?: string;
  targetAccuracy?: string;
  patience?: string;
  startWhen?: string;
  fraction?: string;
  overselect?: string;
  deadline?: string;
  seed: string;
  keep?: boolean;
  trainer?: string;
}

/** Optional numeric flags → request fields; absent flags stay absent so the coordinator applies the strategy's defaults. */
const OPTIONAL_NUMBERS: Array<[keyof TrainOptions, string, string, boolean]> = [
  ['serverLr', '--server-lr', 'serverLearningRate', false],
  ['beta1', '--beta1', 'beta1', false],
  ['beta2', '--beta2', 'beta2', false],
  ['tau', '--tau', 'tau', false],
  ['serverMomentum', '--server-momentum', 'serverMomentum', false],
  ['targetAccuracy', '--target-accuracy', 'targetAccuracy', false],
  ['patience', '--patience', 'patience', true],
  ['startWhen', '--start-when', 'startWhen', true],
  ['fraction', '--fraction', 'fraction', false],
  ['overselect', '--overselect', 'overselect', false],
  ['deadline', '--deadline', 'deadlineSeconds', false],
];

interface ExportOptions extends CommonOptions {
  round?: string;
  client?: string;
  out: string;
}

function num(value: string, flag: string, integer = true): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new CliError(`${flag} must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`);
  return n;
}

function call(options: CommonOptions, ctx: CommandContext, method: string, params: Record<string, unknown>, onEvent?: (e: unknown) => void): Promise<unknown> {
  return callDaemon(options, ctx, method, params, { timeoutMs: onEvent ? 0 : 30_000, ...(onEvent ? { onEvent } : {}) });
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(2)} %`);

interface TrainingEvent {
  name?: string;
  round?: number;
  accuracy?: number;
  loss?: number;
  clients?: number | string[];
  training_uuid?: string;
  client_id?: string;
  reason?: string;
  ready_clients?: number;
  patience?: number;
}

/** The line a progress event of fl.train prints (undefined: none). */
export function describeTrainingEvent(e: TrainingEvent, clients: number): string | undefined {
  switch (e.name) {
    case 'fl_training_accepted': return `training ${e.training_uuid} accepted, provisioning ${clients} sandboxes`;
    case 'fl_training_started': return `training started with ${Array.isArray(e.clients) ? e.clients.length : '?'} clients`;
    case 'fl_round_completed': return `round ${e.round}: accuracy ${pct(e.accuracy)} loss ${e.loss?.toFixed(4)} (${String(e.clients)} clients)`;
    case 'fl_client_dropped': return `client ${e.client_id} dropped: ${e.reason}`;
    case 'fl_start_condition_met': return `${String(e.ready_clients)} clients ready: starting (--start-when)`;
    case 'fl_target_reached': return `target accuracy reached at round ${e.round}`;
    case 'fl_patience_exhausted': return `no improvement for ${String(e.patience)} rounds: stopping after round ${e.round}`;
    default: return undefined;
  }
}

function roundsData(s: TrainingSummary) {
  return s.rounds.map((r) => ({ round: r.round, accuracy: r.accuracy, loss: r.loss, clients: r.clients }));
}

export const registerFl: CommandRegistrar = (program: Command, ctx) => {
  const fl = program.command('fl').summary('federated learning in sandboxes (train, status, join, export, resume, cancel)');

  const train = fl
    .command('train')
    .summary('run a federated training on the running daemon and wait for it')
    .option('--clients <n>', 'number of FL clients (one sandbox each); with --client-data, the number of files')
    .requiredOption('--rounds <n>', 'federated rounds')
    .option('--model <kind>', 'logreg (softmax regression) or mlp (one hidden ReLU layer)', 'logreg')
    .option('--dataset <path>', 'CSV file (optionally .gz): numeric features, integer label last, header optional; read by the daemon')
    .option('--split <split>', 'with --dataset: iid (default) or dirichlet:<alpha>')
    .option('--client-data <files...>', 'one CSV per client (its own data) instead of --dataset; read by the daemon')
    .option('--test-data <file>', 'with --client-data: held-out CSV the daemon evaluates (default: 20 % of each client\'s file, evaluated by that client)')
    .option('--local-epochs <n>', 'local SGD epochs per round', '5')
    .option('--lr <x>', 'learning rate', '0.1')
    .option('--min-clients <n>', 'clients needed to start and to aggregate a round (default: --clients)')
    .option('--round-timeout <s>', 'seconds a round waits for updates before dropping the silent clients', '60')
    .option('--deadline <s>', 'seconds the training may run (from its start or resume): its sandboxes\' lifetime, destroyed then (default: 180 + 60 + 2·(rounds+1)·round-timeout)')
    .option('--mu <x>', 'FedProx proximal coefficient (0 = FedAvg)', '0')
    .option('--strategy <name>', 'fedavg, fedprox, fedavgm, fedadam, fedyogi or fedadagrad (default: fedprox with --mu > 0, else fedavg)')
    .option('--server-lr <x>', 'server learning rate η (fedavgm 1, fedadam 0.1, fedyogi 0.01, fedadagrad 0.1)')
    .option('--beta1 <x>', 'first-moment decay, fedadam/fedyogi (0.9)')
    .option('--beta2 <x>', 'second-moment decay, fedadam/fedyogi (0.99)')
    .option('--tau <x>', 'adaptivity τ, fedadam 1e-9, fedyogi 1e-3, fedadagrad 1e-9')
    .option('--server-momentum <x>', 'server momentum μ, fedavgm (0)')
    .option('--target-accuracy <x>', 'end the training once the held-out accuracy reaches x (0..1]')
    .option('--patience <n>', 'end the training after n rounds without a new best accuracy')
    .option('--start-when <n>', 'start the rounds once n clients are ready (default: all, or the ready timeout); the others are dropped')
    .option('--fraction <c>', 'fraction C of the clients a round aggregates, sampled per round with the seed (0..1], default 1)')
    .option('--overselect <f>', 'ask ceil(f·K) clients, aggregate the first K updates; later ones are discarded and counted (default 1)')
    .option('--seed <n>', 'seed of the data split, shards, initial model and client sampling', '0')
    .option('--trainer <dir>', 'user trainer directory (with an executable train) copied into each client sandbox; see README "User trainers"')
    .option('--keep', 'keep the client sandboxes after the training');
  describeCommand(train, {
    description: [
      'Asks the daemon (admin channel) to provision --clients sandboxes, give each a shard of the data',
      'set (the coordinator keeps a held-out 20 % for evaluation), and run --rounds rounds of FedAvg',
      '(FedProx with --mu; server optimizers with --strategy). --target-accuracy and --patience end it early.',
      'With --client-data a.csv b.csv …, each client trains on its own file instead (files whose columns disagree',
      'fail the training before round 1, naming the file and line); --test-data names a held-out file.',
      'Prints one line per round with the held-out accuracy and loss.',
      'With --json: one object {"status","message","data":{"training_uuid","final_accuracy","rounds":[…]}}.',
    ].join('\n'),
    examples: [
      'anweddol-server fl train --clients 4 --rounds 10 --model logreg --dataset digits.csv.gz --split iid',
      'anweddol-server fl train --clients 4 --rounds 10 --dataset digits.csv.gz --split dirichlet:0.5 --json',
      'anweddol-server fl train --clients 4 --rounds 50 --dataset digits.csv.gz --strategy fedyogi --target-accuracy 0.95 --patience 5',
      'anweddol-server fl train --rounds 10 --client-data site-a.csv site-b.csv site-c.csv [--test-data test.csv]',
    ],
    exitStatus: ['1  also when the training failed (status in the JSON object)'],
  });
  runCommand<TrainOptions>(train, async (options, output) => {
    const clientData = options.clientData?.map((f) => resolve(f));
    if ((options.dataset === undefined) === (clientData === undefined)) throw new CliError('give either --dataset FILE or --client-data FILE…');
    if (clientData && options.split !== undefined) throw new CliError('--split applies to --dataset; with --client-data each client keeps its own file');
    if (!clientData && options.testData !== undefined) throw new CliError('--test-data goes with --client-data (with --dataset the daemon holds out 20 %)');
    if (!clientData && options.clients === undefined) throw new CliError('--clients is required with --dataset');
    const clients = options.clients === undefined ? clientData!.length : num(options.clients, '--clients');
    const params: Record<string, unknown> = {
      clients,
      rounds: num(options.rounds, '--rounds'),
      model: options.model,
      ...(clientData ? { clientData, ...(options.testData !== undefined ? { testData: resolve(options.testData) } : {}) } : { dataset: resolve(options.dataset!), split: options.split ?? 'iid' }),
      localEpochs: num(options.localEpochs, '--local-epochs'),
      learningRate: num(options.lr, '--lr', false),
      minClients: options.minClients === undefined ? clients : num(options.minClients, '--min-clients'),
      roundTimeoutSeconds: num(options.roundTimeout, '--round-timeout', false),
      mu: num(options.mu, '--mu', false),
      ...(options.strategy !== undefined ? { strategy: options.strategy } : {}),
      ...Object.fromEntries(OPTIONAL_NUMBERS.filter(([key]) => options[key] !== undefined).map(([key, flag, field, integer]) => [field, num(options[key] as string, flag, integer)])),
      seed: num(options.seed, '--seed'),
      keepSandboxes: options.keep === true,
      ...(options.trainer !== undefined ? { trainerDir: resolve(options.trainer) } : {}),
    };
    // On a terminal: a bar (rounds, accuracy, ETA) with the other events above it; elsewhere one line per event.
    const bar = wantsProgressBar(options.json === true) ? new ProgressBar('rounds |{bar}| {value}/{total} · accuracy {accuracy} · ETA {eta_formatted}', Number(params.rounds), { accuracy: '—' }) : undefined;
    let summary: TrainingSummary;
    try {
      summary = (await call(options, ctx, 'fl.train', params, (event) => {
        const e = event as TrainingEvent;
        if (bar && e.name === 'fl_round_completed') bar.update(e.round ?? 0, { accuracy: pct(e.accuracy) });
        const line = describeTrainingEvent(e, clients);
        if (line === undefined) return;
        if (bar) bar.log(line);
        else output.progress(line);
      })) as TrainingSummary;
    } finally {
      bar?.stop();
    }
    const data = { training_uuid: summary.training_uuid, final_accuracy: summary.final_accuracy, rounds: roundsData(summary) };
    if (summary.status !== 'finished') throw new CliError(`training ${summary.status}: ${summary.message}`, data);
    const why = summary.message.endsWith('rounds completed') ? '' : ` (${summary.message})`;
    return { message: `training finished${why}: accuracy ${pct(summary.final_accuracy)} after ${summary.rounds.length} rounds`, data, lines: [`training ${summary.training_uuid} finished${why}: accuracy ${pct(summary.final_accuracy)} (initial ${pct(summary.initial_accuracy)})`] };
  });

  const status = fl.command('status').summary('list trainings, or show one').argument('[id]', 'training uuid');
  describeCommand(status, { description: 'Without ID: the last 50 trainings. With ID: its rounds (accuracy, loss, clients), how many times it resumed, and clients (dropped ones with the reason).' });
  runCommand<CommonOptions>(status, async (options, _output, args) => {
    const id = args[0];
    if (id === undefined) {
      const r = (await call(options, ctx, 'fl.status', {})) as { trainings: Array<{ training_uuid: string; status: string; final_accuracy: number | null; message: string }> };
      return { message: `${r.trainings.length} training(s)`, data: r, lines: r.trainings.length === 0 ? ['no trainings'] : r.trainings.map((t) => `${t.training_uuid}  ${t.status}  ${pct(t.final_accuracy)}  ${t.message}`) };
    }
    const s = (await call(options, ctx, 'fl.status', { id })) as TrainingSummary;
    return {
      message: `training ${s.status}`,
      data: s as unknown as Record<string, unknown>,
      lines: [
        `training ${s.training_uuid}: ${s.status}${s.message ? ` (${s.message})` : ''}, accuracy ${pct(s.final_accuracy)}, resumed ${s.resumed} time(s)`,
        ...s.rounds.map((r) => `  round ${r.round}: accuracy ${pct(r.accuracy)} loss ${r.loss.toFixed(4)} clients ${r.clients}${(r.dropped ?? []).map((d) => `; ${d.client_id} left out (${d.reason})`).join('')}${r.late ? `; late (discarded): ${r.late.join(', ')}` : ''}`),
        ...s.clients.map((c) => `  ${c.client_id}: ${c.status}${c.drop_reason ? ` (${c.drop_reason})` : ''}`),
        ...(s.late_updates_discarded ? [`  late updates discarded: ${s.late_updates_discarded}`] : []),
      ],
    };
  });

  const resume = fl.command('resume').summary('resume an interrupted training from its last completed round').argument('<id>', 'training uuid');
  describeCommand(resume, {
    description: [
      'A training the daemon was stopped or killed during is interrupted. With fl.resume_on_start (default) it resumes',
      'at the next start; otherwise this resumes it: new client sandboxes, the last completed round\'s global model,',
      'the same seeds and the stored optimizer state. Returns at once; follow it with fl status ID.',
    ].join('\n'),
  });
  runCommand<CommonOptions>(resume, async (options, _output, args) => {
    const r = (await call(options, ctx, 'fl.resume', { id: args[0] })) as { training_uuid: string; resumed: number };
    return { message: `training ${r.training_uuid} resumed (${r.resumed} time(s))`, data: r };
  });

  const cancel = fl.command('cancel').summary('cancel a running or interrupted training').argument('<id>', 'training uuid');
  describeCommand(cancel, { description: 'Cancels the training and waits until its client sandboxes are destroyed. A finished, failed or cancelled training is refused.' });
  runCommand<CommonOptions>(cancel, async (options, _output, args) => {
    const s = (await call(options, ctx, 'fl.cancel', { id: args[0] })) as TrainingSummary;
    return { message: `training ${s.training_uuid} ${s.status} after ${s.rounds.length} round(s)`, data: { training_uuid: s.training_uuid, status: s.status, rounds: roundsData(s) } };
  });

  const join = fl.command('join').summary('add a client sandbox to a running training').argument('<id>', 'training uuid')
    .option('--data <file>', 'the new client\'s own CSV (default: a seeded sample of the training\'s data set; required with --client-data)');
  describeCommand(join, {
    description: [
      'Provisions one more client sandbox for a running training and waits until it is ready. It takes part',
      'from the next round, starting from that round\'s global model. Its data file must have the training\'s feature columns.',
      'On a --client-data training without --test-data it holds out the test fraction of its file, as the others do. A resumed',
      'training does not relaunch joined clients (they are recorded as dropped): join them again.',
    ].join('\n'),
    examples: ['anweddol-server fl join 1b4e28ba-2fa1-11d2-883f-0016d3cca427 --data site-5.csv'],
  });
  runCommand<CommonOptions & { data?: string }>(join, async (options, _output, args) => {
    const params: Record<string, unknown> = { id: args[0] };
    if (options.data !== undefined) params.data = resolve(options.data);
    const r = (await call(options, ctx, 'fl.join', params)) as { training_uuid: string; client_id: string };
    return { message: `${r.client_id} joined training ${r.training_uuid}`, data: r };
  });

  const exp = fl.command('export').summary('write a global model or a client\'s latest update to a safetensors file').argument('<id>', 'training uuid')
    .option('--round <n>', 'round (default: the last)')
    .option('--client <id>', 'that client\'s latest update instead of a global model (e.g. client-2)')
    .requiredOption('--out <file>', 'output file');
  describeCommand(exp, {
    description: [
      'Writes the global model of a round as a safetensors file (tensors plus input.mean / input.scale).',
      'With --client, writes instead the latest update that client sent (the model it trained in its last round).',
    ].join('\n'),
    examples: ['anweddol-server fl export 1b4e28ba-2fa1-11d2-883f-0016d3cca427 --client client-2 --out client-2.safetensors'],
  });
  runCommand<ExportOptions>(exp, async (options, _output, args) => {
    const params: Record<string, unknown> = { id: args[0] };
    if (options.client !== undefined) {
      if (options.round !== undefined) throw new CliError('--round and --client do not go together: --client writes that client\'s latest update');
      if (options.client.trim() === '') throw new CliError('--client needs a client id (e.g. client-2)');
      params.client = options.client;
    }
    if (options.round !== undefined) params.round = num(options.round, '--round');
    const r = (await call(options, ctx, 'fl.export', params)) as { round: number; bytes: number; safetensors_base64: string };
    const out = resolve(options.out);
    writeFileSync(out, Buffer.from(r.safetensors_base64, 'base64'));
    const what = options.client === undefined ? `round ${r.round} model` : `${options.client}'s round ${r.round} update`;
    return { message: `${what} written to ${out}`, data: { file: out, round: r.round, bytes: r.bytes, ...(options.client === undefined ? {} : { client_id: options.client }) } };
  });
};
