// `build-image`: runs iso/build.sh against the configured Docker endpoint, streaming its output.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../cli-output.js';
import { describeCommand, readConfig, runCommand, type CommandRegistrar, type CommonOptions } from '../command-kit.js';
import { packageRoot } from '../../shared/package-info.js';

export const registerBuildImage: CommandRegistrar = (program: Command, ctx) => {
  const command = program.command('build-image').summary('build the sandbox image');
  describeCommand(command, {
    description: [
      'Runs iso/build.sh with DOCKER_HOST set to docker.host: a Debian rootfs (debootstrap, cached),',
      '`docker import`, then the sandbox layer (sshd, endpoint setup, FL agent). Needs root.',
      'The build output is streamed (to stderr with --json); the image ID is reported at the end.',
    ].join('\n'),
    examples: ['anweddol-server build-image', 'anweddol-server build-image --json'],
  });
  runCommand<CommonOptions>(command, async (options) => {
    const { config } = readConfig(options, ctx);
    const script = join(packageRoot(), 'iso', 'build.sh');
    const json = options.json === true;
    const child = spawn('bash', [script], {
      env: { ...process.env, DOCKER_HOST: config.docker.host },
      stdio: ['ignore', 'pipe', json ? 'pipe' : 'inherit'],
    });
    let lastLine = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      (json ? process.stderr : process.stdout).write(chunk);
      const lines = chunk.toString('utf8').trim().split('\n');
      lastLine = lines[lines.length - 1] || lastLine;
    });
    child.stderr?.pipe(process.stderr);
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (status) => resolve(status ?? 1));
    });
    if (code !== 0) throw new CliError(`iso/build.sh failed with exit code ${code}`, { exit_code: code });
    return { message: 'Sandbox image built', data: { image: config.container.image, image_id: lastLine.trim() }, lines: [`Sandbox image built: ${lastLine.trim()}`] };
  });
};
