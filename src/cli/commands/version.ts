// `version`: the package version.
import type { Command } from 'commander';
import type { CommandRegistrar } from '../command-kit.js';
import { describeCommand, runCommand } from '../command-kit.js';
import { packageVersion } from '../../shared/package-info.js';

export const registerVersion: CommandRegistrar = (program: Command) => {
  const command = describeCommand(program.command('version').summary('print the version'), {
    description: 'Prints the anweddol-server version (the `version` field STAT answers).',
    examples: ['anweddol-server version', 'anweddol-server version --json'],
  }, { config: false });
  runCommand(command, async () => {
    const version = packageVersion();
    return { message: `anweddol-server ${version}`, data: { version } };
  });
};
