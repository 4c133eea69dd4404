// `destroy`: an administrator destroys client sandboxes of the running daemon (one, a client's, the expired ones, or all) over the admin channel.
import { Option, type Command } from 'commander';
import { adminRequest, AdminRequestError } from '../../daemon/admin-channel.js';
import { CliError } from '../cli-output.js';
import { describeCommand, readConfig, runCommand, type CommandRegistrar, type CommonOptions } from '../command-kit.js';

interface DestroyOptions extends CommonOptions {
  client?: string;
  expired?: boolean;
  all?: boolean;
}

/** One destroyed sandbox in the answer (`data.destroyed` with --json). */
export interface DestroyedLine {
  session_id: number;
  container_id: string;
  port: number;
  client_id: string;
  reason: string;
}

interface DestroyAnswer {
  destroyed: DestroyedLine[];
  failed: Array<{ session_id: number; container_id: string; error: string }>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const registerDestroy: CommandRegistrar = (program: Command, ctx) => {
  const command = program
    .command('destroy')
    .summary('destroy sandboxes of the running server')
    .argument('[uuid]', 'the container_uuid a client got at CREATE')
    .addOption(new Option('--client <id>', "every sandbox of this client (its id as logs and stat show it)").conflicts(['expired', 'all']))
    .addOption(new Option('--expired', 'every sandbox past its deadline (lifetime or idle timeout)').conflicts(['all']))
    .option('--all', 'every client sandbox');
  describeCommand(command, {
    description: [
      'Asks the local daemon over its admin channel to destroy client sandboxes and prints each one it',
      'destroyed (session, container, port, client). Give exactly one of UUID, --client ID, --expired, --all.',
      'FL training sandboxes are never selected (trainings have their own deadlines).',
      'An unknown UUID or a client without sandboxes is an error; --expired or --all finding nothing is not.',
    ].join('\n'),
    examples: [
      'anweddol-server destroy 0f8e1c52-5d0b-4b7e-9a51-3c2f3b1d9e77',
      'anweddol-server destroy --client 3fa1c07be2d4',
      'anweddol-server destroy --expired --json',
      'anweddol-server destroy --all',
    ],
  });
  runCommand<DestroyOptions>(command, async (options, _output, args) => {
    const params = destroyParams(args[0], options);
    const { config } = readConfig(options, ctx);
    let answer: DestroyAnswer;
    try {
      answer = (await adminRequest(config.server.admin_socket_path, 'destroy', params, { timeoutMs: 300_000 })) as DestroyAnswer;
    } catch (error) {
      if (error instanceof AdminRequestError) throw new CliError(error.unreachable ? `the server is not running (${error.message})` : error.message);
      throw error;
    }
    const lines = answer.destroyed.map((d) => `destroyed session #${d.session_id}  container ${d.container_id}  port ${d.port}  client ${d.client_id || '-'}  (${d.reason})`);
    const data = answer as unknown as Record<string, unknown>;
    if (answer.failed.length > 0) {
      const failures = answer.failed.map((f) => `could not destroy session #${f.session_id} (container ${f.container_id}): ${f.error}`);
      throw new CliError(`${answer.failed.length} sandbox(es) could not be destroyed`, data, [...lines, ...failures]);
    }
    const count = answer.destroyed.length;
    return { message: `${count} sandbox${count === 1 ? '' : 'es'} destroyed`, data, lines: count === 0 ? ['nothing to destroy'] : lines };
  });
};

function destroyParams(uuid: string | undefined, options: DestroyOptions): Record<string, unknown> {
  const chosen = [uuid !== undefined, options.client !== undefined, options.expired === true, options.all === true].filter(Boolean).length;
  if (chosen !== 1) throw new CliError('give exactly one of UUID, --client ID, --expired, --all');
  if (uuid !== undefined) {
    if (!UUID.test(uuid)) throw new CliError(`not a container uuid: ${JSON.stringify(uuid)} (expected the lowercase UUID a client got at CREATE)`);
    return { uuid };
  }
  if (options.client !== undefined) return { client_id: options.client };
  return options.expired === true ? { expired: true } : { all: true };
}
