// `call METHOD [--params JSON]`: invokes any admin-channel method of the running daemon (built-in, FL, or a plugin's).
import type { Command } from 'commander';
import { CliError } from '../cli-output.js';
import { callDaemon, describeCommand, runCommand, type CommandRegistrar, type CommonOptions } from '../command-kit.js';

interface CallOptions extends CommonOptions {
  params?: string;
  timeout: string;
}

/** `--params` must be one JSON object: the method's named parameters. */
export function parseParams(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(`--params: not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(`--params: must be a JSON object, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

export const registerCall: CommandRegistrar = (program: Command, ctx) => {
  const command = program
    .command('call')
    .summary('call an admin method of the running daemon (e.g. one a plugin added)')
    .argument('<method>', 'admin method name (status, stat, fl.status, or one a plugin registered)')
    .option('--params <json>', 'the method parameters, one JSON object')
    .option('--timeout <seconds>', 'give up after this many seconds (0: wait forever)', '30');
  describeCommand(command, {
    description: [
      'Sends one request to the daemon over its admin channel (server.admin_socket_path) and prints',
      'the result as JSON. Progress events the method sends go to stderr, one JSON line each.',
      'Plugins add methods with api.admin.register(method, handler).',
    ].join('\n'),
    examples: ['anweddol-server call status', 'anweddol-server call fl.status --params \'{"id": "…"}\'', 'anweddol-server call audit.tail --params \'{"lines": 5}\' --json'],
  });
  runCommand<CallOptions>(command, async (options, _output, args) => {
    const method = args[0]!;
    const params = parseParams(options.params);
    const seconds = Number(options.timeout);
    if (!Number.isFinite(seconds) || seconds < 0) throw new CliError(`--timeout must be a number of seconds ≥ 0, got ${JSON.stringify(options.timeout)}`);
    const result = await callDaemon(options, ctx, method, params, {
      timeoutMs: seconds * 1000,
      onEvent: (event) => process.stderr.write(`${JSON.stringify(event)}\n`),
    });
    return { message: `${method} answered`, data: { result }, lines: [JSON.stringify(result, null, 2)] };
  });
};
