// `build-image`: runs iso/build.sh against the configured Docker endpoint, streaming its output.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { CliError } from '../cli-output.js';
import { buildStep, BUILD_STEPS, ProgressBar, wantsProgressBar } from '../progress.js';
import { describeCommand, readConfig, runCommand, type CommandRegistrar, type CommonOptions } from '../command-kit.js';
import { packageRoot } from '../../shared/package-info.js';
import { dockerFromHost } from '../../virtualization/docker/docker-engine.js';
import { ImagePushError, pushImageToRegistry } from '../../virtualization/swarm/image-reference.js';

export const registerBuildImage: CommandRegistrar = (program: Command, ctx) => {
  const command = program.command('build-image').summary('build the sandbox image');
  describeCommand(command, {
    description: [
      'Runs iso/build.sh with DOCKER_HOST set to docker.host: a Debian rootfs (debootstrap, cached),',
      '`docker import`, then the sandbox layer (sshd, endpoint setup, FL agent). Needs root.',
      'The build output is streamed (to stderr with --json); the image ID is reported at the end.',
      'On a terminal, a bar shows the build steps instead (the output is shown if the build fails).',
      'With swarm.registry set, the image is then pushed there and its digest reference printed: swarm services',
      'run exactly that image (README "Running on a swarm").',
    ].join('\n'),
    examples: ['anweddol-server build-image', 'anweddol-server build-image --json'],
  });
  runCommand<CommonOptions>(command, async (options) => {
    const { config } = readConfig(options, ctx);
    const script = join(packageRoot(), 'iso', 'build.sh');
    const json = options.json === true;
    const bar = wantsProgressBar(json) ? new ProgressBar('build-image |{bar}| step {value}/{total} · {step}', BUILD_STEPS, { step: 'starting' }) : undefined;
    const child = spawn('bash', [script], {
      env: { ...process.env, DOCKER_HOST: config.docker.host },
      // With a bar the script's stderr (its steps and docker's output) is read here, else it goes straight through.
      stdio: ['ignore', 'pipe', json || bar ? 'pipe' : 'inherit'],
    });
    let lastLine = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      if (!bar) (json ? process.stderr : process.stdout).write(chunk);
      const lines = chunk.toString('utf8').trim().split('\n');
      lastLine = lines[lines.length - 1] || lastLine;
    });
    /** docker's output behind the bar, shown if the build fails. */
    const hidden: string[] = [];
    if (bar) {
      let steps = 0;
      createInterface({ input: child.stderr! }).on('line', (line) => {
        const step = buildStep(line);
        if (step === undefined) return void (hidden.push(line) > 200 && hidden.shift());
        steps = Math.min(steps + 1, BUILD_STEPS);
        bar.update(steps, { step });
      });
    } else child.stderr?.pipe(process.stderr);
    let code: number;
    try {
      code = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (status) => resolve(status ?? 1));
      });
      if (code === 0) bar?.update(BUILD_STEPS, { step: 'done' });
    } finally {
      bar?.stop();
    }
    if (code !== 0 && hidden.length > 0) process.stderr.write(`${hidden.join('\n')}\n`);
    if (code !== 0) throw new CliError(`iso/build.sh failed with exit code ${code}`, { exit_code: code });
    const built = { image: config.container.image, image_id: lastLine.trim() };
    const registry = config.swarm.registry;
    if (registry === null) return { message: 'Sandbox image built', data: built, lines: [`Sandbox image built: ${built.image_id}`] };
    const pushed = await pushImageToRegistry(dockerFromHost(config.docker.host), config.container.image, registry).catch((error: unknown) => {
      throw error instanceof ImagePushError ? new CliError(error.message) : error;
    });
    return {
      message: 'Sandbox image built and pushed',
      data: { ...built, registry, registry_reference: pushed.reference },
      lines: [`Sandbox image built: ${built.image_id}`, `Pushed to the registry: ${pushed.reference}`],
    };
  });
};
