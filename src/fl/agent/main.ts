// Entry point of the bundled agent (`node agent.mjs --config FILE`), or of the built-in trainer as a
// command (`node agent.mjs train|test --training-id … --round … --model-id …`, reading the ANWEDDOL_FL_* environment).
import { readFileSync } from 'node:fs';
import { parseCsvDataset } from '../data/parse-csv-dataset.js';
import { validateAgentConfig, type AgentHyperparameters } from './agent-config.js';
import { runBuiltinTrainer } from './builtin-trainer.js';
import { CoordinatorClient } from './coordinator-client.js';
import { FlAgent } from './fl-agent.js';

function option(args: string[], name: string): string {
  const i = args.indexOf(name);
  if (i < 0 || i + 1 >= args.length) throw new Error(`missing ${name}`);
  return args[i + 1]!;
}

function log(level: 'info' | 'error', message: string): void {
  const line = `${new Date().toISOString()} ${level} ${message}\n`;
  if (level === 'error') process.stderr.write(line);
  else process.stdout.write(line);
}

async function main(args: string[]): Promise<void> {
  const mode = args[0];
  if (mode === 'train' || mode === 'test') {
    // Run as an external trainer by an agent: everything comes from the ANWEDDOL_FL_* environment.
    const env = (name: string) => {
      const v = process.env[name];
      if (!v) throw new Error(`${name} is not set`);
      return v;
    };
    const hyper = JSON.parse(env('ANWEDDOL_FL_HYPERPARAMETERS')) as AgentHyperparameters;
    const shard = parseCsvDataset(readFileSync(env('ANWEDDOL_FL_DATA'), 'utf8'));
    const testPath = process.env.ANWEDDOL_FL_TEST_DATA;
    const testShard = testPath ? parseCsvDataset(readFileSync(testPath, 'utf8')) : undefined;
    const task = { mode, trainingId: option(args, '--training-id'), round: Number(option(args, '--round')), modelId: option(args, '--model-id') } as const;
    await runBuiltinTrainer(task, shard, hyper, new CoordinatorClient(env('ANWEDDOL_FL_COORDINATOR_URL'), env('ANWEDDOL_FL_TOKEN'), env('ANWEDDOL_FL_OWNER')), testShard);
    return;
  }
  const configPath = option(args, '--config');
  const config = validateAgentConfig(JSON.parse(readFileSync(configPath, 'utf8')));
  const shard = parseCsvDataset(readFileSync(config.dataPath, 'utf8'));
  const testShard = config.testDataPath ? parseCsvDataset(readFileSync(config.testDataPath, 'utf8')) : undefined;
  const agent = new FlAgent(config, shard, log, testShard);
  const port = await agent.start();
  log('info', `agent for training ${config.trainingUuid} (${config.owner}) listening on ${config.listenHost}:${port}, ${shard.count} samples`);
  const stop = () => void agent.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await agent.finished;
  await agent.stop();
  log('info', 'training finished, agent exiting');
}

main(process.argv.slice(2)).catch((e: Error) => {
  log('error', e.message);
  process.exit(1);
});
