// A user trainer as a program (`DIR/train`): model in and out as safetensors files, the shard as a CSV path, metrics as JSON on stdout.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeModelFile, encodeModelFile } from '../model/model-file.js';
import type { AgentHyperparameters, FileTrainerConfig } from './agent-config.js';
import { roundSeed, type TrainerTask } from './builtin-trainer.js';
import type { CoordinatorClient, Metrics } from './coordinator-client.js';

/** stdout kept from a trainer (its last line is the report; earlier lines are its own log). */
const MAX_STDOUT_BYTES = 1024 * 1024;
const MAX_METRICS = 31;
const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** The trainer did not produce a usable answer: reported to the coordinator, which leaves the client out of this round. */
export class TrainerFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainerFailure';
  }
}

export interface TrainerReport {
  /** Samples trained on (train) — absent: the whole shard. */
  samples?: number;
  metrics: Metrics;
}

/** The trainer's report: the last non-empty stdout line, a JSON object of finite numbers. */
export function parseTrainerReport(stdout: string): TrainerReport {
  const line = stdout.trimEnd().split('\n').at(-1)?.trim() ?? '';
  if (line === '') throw new TrainerFailure('the trainer printed no JSON report on stdout');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new TrainerFailure(`the last stdout line is not JSON: ${JSON.stringify(line.slice(0, 60))}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TrainerFailure('the stdout report is not a JSON object');
  const metrics: Metrics = {};
  let samples: number | undefined;
  for (const [name, v] of Object.entries(value)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TrainerFailure(`report value ${JSON.stringify(name.slice(0, 40))} is not a finite number`);
    if (!METRIC_NAME.test(name)) throw new TrainerFailure(`report name ${JSON.stringify(name.slice(0, 40))} is not a metric name`);
    if (name === 'samples') samples = v;
    metrics[name] = v;
  }
  if (Object.keys(metrics).length > MAX_METRICS) throw new TrainerFailure(`the report holds more than ${MAX_METRICS} values`);
  return samples === undefined ? { metrics } : { samples, metrics };
}

export interface FileTrainerContext {
  trainer: FileTrainerConfig;
  dataPath: string;
  /** The client's held-out rows (`testDataPath`): the data a test round evaluates when present. */
  testDataPath?: string;
  shardSize: number;
  hyperparameters: AgentHyperparameters;
  client: CoordinatorClient;
}

/** One round of a user trainer; a TrainerFailure is reported to the coordinator before it is rethrown (for the agent's log). */
export async function runFileTrainer(task: TrainerTask, ctx: FileTrainerContext): Promise<void> {
  const { client } = ctx;
  const global = decodeModelFile(await client.downloadModel(task.modelId));
  const dir = join(ctx.trainer.workDir, `${task.mode}-${task.round}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    const modelIn = join(dir, 'model-in.safetensors');
    const modelOut = join(dir, 'model-out.safetensors');
    writeFileSync(modelIn, encodeModelFile(global));
    const h = ctx.hyperparameters;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: dir,
      LANG: 'C.UTF-8',
      ANWEDDOL_FL_MODE: task.mode,
      ANWEDDOL_FL_TRAINING_ID: task.trainingId,
      ANWEDDOL_FL_CLIENT_ID: client.owner,
      ANWEDDOL_FL_ROUND: String(task.round),
      ANWEDDOL_FL_DATA: task.mode === 'test' && ctx.testDataPath ? ctx.testDataPath : ctx.dataPath,
      ANWEDDOL_FL_MODEL_IN: modelIn,
      ANWEDDOL_FL_MODEL_OUT: modelOut,
      ANWEDDOL_FL_EPOCHS: String(h.epochs),
      ANWEDDOL_FL_LEARNING_RATE: String(h.learningRate),
      ANWEDDOL_FL_BATCH_SIZE: String(h.batchSize),
      ANWEDDOL_FL_MU: String(h.mu),
      ANWEDDOL_FL_SEED: String(roundSeed(h.seed, task.round, client.owner)),
    };
    try {
      const report = parseTrainerReport(await runTrainerProgram(join(ctx.trainer.dir, 'train'), dir, env, ctx.trainer.timeoutSeconds));
      if (task.mode === 'test') {
        await client.postMetrics(task.modelId, task.round, report.metrics);
        return;
      }
      const samples = report.samples ?? ctx.shardSize;
      if (!Number.isInteger(samples) || samples < 1 || samples > ctx.shardSize) throw new TrainerFailure(`report samples ${samples} is not an integer in 1..${ctx.shardSize}`);
      const trained = readTrainedModel(modelOut, global);
      const { samples: _samples, ...metrics } = report.metrics;
      // Re-encoded from the checked weights: the global standardizer travels back unchanged whatever the trainer wrote.
      const file = encodeModelFile({ ...global, params: trained, metadata: { training_uuid: task.trainingId, round: String(task.round), owner: client.owner } });
      await client.uploadModel(task.modelId, { round: task.round, sampleSize: samples, metrics, file });
    } catch (e) {
      if (e instanceof TrainerFailure) await client.reportFailure(task.modelId, task.round, e.message);
      throw e;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readTrainedModel(path: string, global: ReturnType<typeof decodeModelFile>): Float32Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new TrainerFailure('the trainer wrote no model to ANWEDDOL_FL_MODEL_OUT');
  }
  try {
    return decodeModelFile(bytes, global.spec).params;
  } catch (e) {
    throw new TrainerFailure(`the trainer wrote a malformed model: ${(e as Error).message}`);
  }
}

/** Runs the program in its own process group (killed whole at the timeout); resolves to its stdout. */
function runTrainerProgram(program: string, cwd: string, env: Record<string, string>, timeoutSeconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, [], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    const chunks: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    child.stdout.on('data', (c: Buffer) => {
      size += c.length;
      chunks.push(c);
      // Only the tail matters (the report is the last line): drop the oldest output past the cap.
      while (size > MAX_STDOUT_BYTES && chunks.length > 1) size -= chunks.shift()!.length;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutSeconds * 1000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new TrainerFailure(`the trainer could not start: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      // Whatever it left running in its group goes too.
      killGroup(child.pid);
      if (timedOut) reject(new TrainerFailure(`the trainer ran past its ${timeoutSeconds} s limit and was killed`));
      else if (code !== 0) reject(new TrainerFailure(`the trainer exited with ${signal ?? `code ${code}`}`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is already gone
  }
}
