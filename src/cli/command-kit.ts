// What every command shares: --config/--json, a man-style help page, and one way to answer (CliOutput).
import type { Command } from 'commander';
import { adminRequest, AdminRequestError, type AdminRequestOptions } from '../daemon/admin-channel.js';
import type { AnweddolConfig } from '../daemon/config/config-schema.js';
import { loadConfig, resolveConfigPath, type Environment } from '../daemon/config/config-loader.js';
import { CliError, CliOutput, type CliResult } from './cli-output.js';

export interface CommandContext {
  env: Environment;
  /** How to re-run this CLI (daemonising re-spawns it with --foreground). */
  entry: { execPath: string; execArgv: string[]; script: string };
}

/** A module under src/cli/commands/ exports one of these; commands/index.ts lists them. */
export type CommandRegistrar = (program: Command, ctx: CommandContext) => void;

export interface CommonOptions {
  config?: string;
  json?: boolean;
}

export interface LoadedConfig {
  path: string;
  config: AnweddolConfig;
}

export function readConfig(options: CommonOptions, ctx: CommandContext): LoadedConfig {
  const path = resolveConfigPath(options.config, ctx.env);
  return { path, config: loadConfig(path, ctx.env) };
}

/** Calls an admin method of the running daemon; its failures become one-line CLI errors. */
export async function callDaemon(options: CommonOptions, ctx: CommandContext, method: string, params: Record<string, unknown>, request: AdminRequestOptions = {}): Promise<unknown> {
  const { config } = readConfig(options, ctx);
  try {
    return await adminRequest(config.server.admin_socket_path, method, params, request);
  } catch (error) {
    if (error instanceof AdminRequestError && error.unreachable) throw new CliError(`the server is not running (${error.message})`);
    if (error instanceof AdminRequestError) throw new CliError(error.message);
    throw error;
  }
}

export interface ManPage {
  description: string;
  examples?: string[];
  /** Extra EXIT STATUS lines; 0 / 1 are always documented. */
  exitStatus?: string[];
  files?: boolean;
}

/** Adds --config, --json and a man-style help (DESCRIPTION, EXAMPLES, FILES, EXIT STATUS). */
export function describeCommand(command: Command, page: ManPage, options: { config?: boolean } = {}): Command {
  if (options.config !== false) {
    command.option('--config <file>', 'configuration file (default: $ANWEDDOL_CONFIG, else /etc/anweddol/anweddol.conf.yaml, else /etc/anweddol/config.yaml)');
  }
  command.option('--json', 'print exactly one JSON object {"status","message","data"} on stdout');
  // Pages name the program the way it was called (`anwdlserver` is the same program).
  let root = command;
  while (root.parent) root = root.parent;
  const name = root === command ? 'anweddol-server' : root.name();
  const named = (line: string) => line.replace(/\banweddol-server\b(?=\s|`|$)/g, name);
  const sections = [
    '',
    'DESCRIPTION',
    ...page.description.split('\n').map((l) => `  ${named(l)}`),
    ...(page.examples?.length ? ['', 'EXAMPLES', ...page.examples.map((e) => `  ${named(e)}`)] : []),
    ...(options.config !== false
      ? [
          '',
          'FILES',
          '  /etc/anweddol/anweddol.conf.yaml   default configuration (see anweddol.conf.yaml in the package)',
          '  /etc/anweddol/config.yaml          read when the file above does not exist (Anweddol 4.x)',
        ]
      : []),
    '',
    'EXIT STATUS',
    '  0  success',
    '  1  error (the message names the cause; with --json: {"status": "ERROR", ...})',
    ...(page.exitStatus ?? []).map((l) => `  ${l}`),
  ];
  return command.addHelpText('after', sections.join('\n'));
}

/** Runs a command body and answers through CliOutput; sets the process exit code. */
export function runCommand<O extends CommonOptions>(
  command: Command,
  /** Resolves undefined when the body already answered (a foreground daemon). */
  body: (options: O, output: CliOutput, args: string[]) => Promise<CliResult | undefined>,
): Command {
  return command.action(async (...received: unknown[]) => {
    const self = received[received.length - 1] as Command;
    const options = self.opts<O>();
    const output = new CliOutput(options.json === true);
    try {
      const result = await body(options, output, self.args);
      if (result !== undefined) process.exitCode = output.success(result);
    } catch (error) {
      process.exitCode = output.failure(error);
    }
  });
}
