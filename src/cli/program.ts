// The anweddol-server command line (also installed as `anwdlserver`, Anweddol's name): commander program with every registered command.
import { Command, CommanderError } from 'commander';
import { basename } from 'node:path';
import { CliError, CliOutput } from './cli-output.js';
import type { CommandContext } from './command-kit.js';
import { commands } from './commands/index.js';

/** The name help shows: `anwdlserver` when run under Anweddol's name (the second bin), else `anweddol-server`. */
export function programName(script: string): string {
  return basename(script).startsWith('anwdlserver') ? 'anwdlserver' : 'anweddol-server';
}

export function buildProgram(ctx: CommandContext, json: boolean): Command {
  const name = programName(ctx.entry.script);
  const program = new Command(name)
    .description('Anweddol server: disposable, SSH-reachable Docker sandboxes over the Anweddol protocol (TCP and REST).')
    .showHelpAfterError(!json)
    .exitOverride()
    .configureOutput({
      // With --json, commander's own error text is replaced by the one JSON object.
      writeErr: (text) => {
        if (!json) process.stderr.write(text);
      },
    })
    .addHelpText(
      'after',
      [
        '',
        'Every command takes --config FILE (default: $ANWEDDOL_CONFIG, else /etc/anweddol/anweddol.conf.yaml,',
        'else /etc/anweddol/config.yaml as Anweddol 4.x installed it)',
        `and --json. \`${name} <command> --help\` shows the manual of a command.`,
        ...(name === 'anwdlserver' ? ['`anwdlserver` is anweddol-server under Anweddol 4.x\'s name; both accept Anweddol\'s flags.'] : []),
      ].join('\n'),
    );
  for (const register of commands) register(program, ctx);
  return program;
}

export async function runCli(argv: string[], ctx: CommandContext): Promise<void> {
  const json = argv.includes('--json');
  const program = buildProgram(ctx, json);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // Help and version output are successes; usage errors exit 1 (with one JSON object under --json).
    if (error.exitCode !== 0 && json) new CliOutput(true).failure(new CliError(error.message.replace(/^error: /, '')));
    process.exitCode = error.exitCode;
  }
}
