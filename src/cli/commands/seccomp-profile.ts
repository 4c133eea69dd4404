// `seccomp-profile`: the sandboxes' seccomp profile (no btrfs ioctls) as a file, for swarm nodes' `dockerd --seccomp-profile`.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { readSandboxSeccompProfile } from '../../daemon/seccomp-profile-file.js';
import { CliError } from '../cli-output.js';
import { describeCommand, readConfig, runCommand, type CommandRegistrar, type CommonOptions } from '../command-kit.js';

export const registerSeccompProfile: CommandRegistrar = (program: Command, ctx) => {
  const command = describeCommand(program.command('seccomp-profile').summary("print or write the sandboxes' seccomp profile"), {
    description: [
      "Derives the sandboxes' seccomp profile from Docker's default one (container.seccomp_profile, or --base FILE):",
      'every ioctl stays allowed except btrfs ioctls, so a sandbox user cannot create a btrfs subvolume,',
      'whose writes would escape container.disk_limit. The engine backend applies it to every sandbox itself;',
      'a swarm service cannot carry one, so each swarm node runs `dockerd --seccomp-profile FILE` with this file',
      '(the backend checks every new sandbox and excludes a node that lets the subvolume through).',
      'Prints the profile (JSON) on stdout, or writes it to --out FILE (mode 0644).',
    ].join('\n'),
    examples: [
      'anweddol-server seccomp-profile --out /etc/docker/anweddol-seccomp.json',
      'anweddol-server seccomp-profile --base /usr/share/anweddol/docker-seccomp-default.json > profile.json',
    ],
  });
  command.option('--base <file>', "Docker's default seccomp profile to derive from (default: container.seccomp_profile; the configuration is then not read)");
  command.option('--out <file>', 'write the profile there instead of printing it');
  runCommand<CommonOptions & { base?: string; out?: string }>(command, async (options) => {
    const base = options.base ?? readConfig(options, ctx).config.container.seccomp_profile;
    if (base === null) throw new CliError("container.seccomp_profile is null: give --base FILE (Docker's default seccomp profile of the nodes' engine)");
    let profile: string;
    try {
      profile = readSandboxSeccompProfile(base, options.base === undefined ? 'container.seccomp_profile' : '--base');
    } catch (error) {
      throw new CliError((error as Error).message);
    }
    if (options.out === undefined) return { message: 'sandbox seccomp profile', data: { base, profile: JSON.parse(profile) as unknown }, lines: [profile] };
    writeFileSync(options.out, `${profile}\n`, { mode: 0o644 });
    return { message: `sandbox seccomp profile written to ${options.out}`, data: { base, out: options.out } };
  });
};
