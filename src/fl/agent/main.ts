// Entry point of the bundled agent (`node agent.mjs --config FILE`), or of the built-in trainer as a
// command (`node agent.mjs train|test --training-id … --round … --model-id …`, reading ANWEDDOL_FL_*).
import { readFileSync } from 'node:fs';
import { parseCsvDataset } from '../data/parse-csv-dataset.js';
import { validateAgentConfig } from './agent-config.js';
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
    const configPath = process.env.ANWEDDOL_FL_CONFIG;
    if (!configPath) throw new Error('ANWEDDOL_FL_CONFIG is not set');
    const config = validateAgentConfig(JSON.parse(readFileSync(configPath, 'utf8')));
    const shard = parseCsvDataset(readFileSync(config.dataPath, 'utf8'));
    const task = { mode, trainingId: option(args, '--training-id'), round: Number(option(args, '--round')), modelId: option(args, '--model-id') } as const;
    await runBuiltinTrainer(task, shard, config.hyperparameters, new CoordinatorClient(config.coordinatorUrl, config.token, config.owner));
    return;
  }
  const configPath = option(args, '--config');
  const config = validateAgentConfig(JSON.parse(readFileSync(configPath, 'utf8')));
  // An external trainer can run this bundle's built-in trainer (`node agent.mjs train …`) with the same config.
  process.env.ANWEDDOL_FL_CONFIG = configPath;
  const shard = parseCsvDataset(readFileSync(config.dataPath, 'utf8'));
  const agent = new FlAgent(config, shard, log);
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
