// `stat`: the admin view of a running daemon (admin channel), or a protocol STAT to any server (--host).
import type { Command } from 'commander';
import { AnweddolAmqpClient, DEFAULT_REQUEST_QUEUE } from '../../client/amqp-client.js';
import { AnweddolTcpClient } from '../../client/tcp-client.js';
import { brokerName, isAmqpUrl } from '../../server/amqp/amqp-url.js';
import type { AnweddolResponse } from '../../server/types.js';
import { CliError } from '../cli-output.js';
import { describeCommand, readConfig, runCommand, type CommandRegistrar, type CommonOptions } from '../command-kit.js';
import { adminRequest, AdminRequestError } from '../../daemon/admin-channel.js';

interface StatOptions extends CommonOptions {
  host?: string;
  port: string;
  amqp?: string;
  queue: string;
}

/** The admin methods' `pool` object (WarmPoolStatistics). */
interface WarmPoolLine {
  size: number;
  ready: number;
  filling: number;
  recycled: number;
  replaced: number;
}

/** One line on the warm pool, shared by `stat` and `status`. */
export function describePool(pool: WarmPoolLine): string {
  if (pool.size === 0) return 'warm pool off';
  return `warm pool ${pool.ready}/${pool.size} ready, ${pool.filling} filling, ${pool.recycled} recycled, ${pool.replaced} replaced`;
}

interface AdminStat {
  uptime: number;
  sessions: Array<{ id: number; age_seconds: number; port: number; state: string; container_id: string; client_id: string; expires_at: number | null }>;
  containers: Array<{ id: string; port: number }>;
  backend_available: boolean;
  runtime_errors: number;
  connections_served: number;
  active_connections: number;
  available: number | 'nolimit';
  pool: WarmPoolLine;
  refused_by_client_limit: Record<string, number>;
  /** Broker messages rejected without requeue, by reason (absent from older daemons). */
  poison_messages?: Record<string, number>;
}

export const registerStat: CommandRegistrar = (program: Command, ctx) => {
  const command = program
    .command('stat')
    .summary('show sessions, containers and counters of the running server')
    .option('--host <address>', 'instead: send a protocol STAT request to this server over TCP')
    .option('--port <port>', 'with --host: the server port', '6150')
    .option('--amqp <url>', 'instead: send a protocol STAT request through this RabbitMQ broker (amqp:// or amqps://)')
    .option('--queue <name>', 'with --amqp: the server\'s request queue (rabbitmq.queue)', DEFAULT_REQUEST_QUEUE);
  describeCommand(command, {
    description: [
      'Without --host: asks the local daemon over its admin channel (server.admin_socket_path, a',
      'unix socket only root/the daemon user can open) for its sessions (age, forwarded port, client id, deadline),',
      'containers, runtime errors, connections served and refusals by each per-client limit.',
      'With --host: performs a full Anweddol key exchange and STAT request, as a client would.',
      'With --amqp: publishes a STAT request to the server\'s queue on that broker and waits for the answer on a',
      'private reply queue (the RabbitMQ interface); the URL\'s credentials are never printed.',
    ].join('\n'),
    examples: [
      'anweddol-server stat',
      'anweddol-server stat --json',
      'anweddol-server stat --host 127.0.0.1 --port 6150 --json',
      'anweddol-server stat --amqp amqp://user:password@broker.example.org/ --queue anweddol.requests',
    ],
  });
  runCommand<StatOptions>(command, async (options) => {
    if (options.host !== undefined && options.amqp !== undefined) throw new CliError('--host and --amqp are two ways to reach a server: give one');
    if (options.host !== undefined) {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliError(`--port must be a port number, got ${JSON.stringify(options.port)}`);
      const response = await new AnweddolTcpClient({ host: options.host, port, rsaKeyBits: 2048, timeoutMs: 15_000 }).stat();
      return protocolStat(response, `${options.host}:${port}`);
    }
    if (options.amqp !== undefined) {
      // The URL may carry a password: named by host and port only, even when it is wrong.
      if (!isAmqpUrl(options.amqp)) throw new CliError('--amqp must be a broker URL amqp://[user:password@]host[:port][/vhost] (or amqps://)');
      if (options.queue === '' || Buffer.byteLength(options.queue) > 255) throw new CliError('--queue must be a queue name of 1–255 bytes');
      return protocolStat(await amqpStat(options.amqp, options.queue), `${brokerName(options.amqp)} queue ${options.queue}`);
    }
    const { config } = readConfig(options, ctx);
    let stat: AdminStat;
    try {
      stat = (await adminRequest(config.server.admin_socket_path, 'stat')) as AdminStat;
    } catch (error) {
      if (error instanceof AdminRequestError && error.unreachable) throw new CliError(`the server is not running (${error.message})`);
      throw error;
    }
    return {
      message: 'Server statistics',
      data: stat as unknown as Record<string, unknown>,
      lines: [
        `uptime ${stat.uptime} s, ${stat.connections_served} connections served, ${stat.active_connections} active, ${stat.runtime_errors} runtime errors`,
        `backend ${stat.backend_available ? 'reachable' : 'UNREACHABLE'}, ${String(stat.available)} sandbox slots available`,
        describePool(stat.pool),
        `refused by per-client limits: ${Object.entries(stat.refused_by_client_limit).map(([limit, n]) => `${limit} ${n}`).join(', ')}`,
        ...(stat.poison_messages ? [`broker poison messages: ${Object.entries(stat.poison_messages).map(([reason, n]) => `${reason} ${n}`).join(', ')}`] : []),
        `sessions (${stat.sessions.length}):`,
        ...stat.sessions.map((s) => `  #${s.id}  port ${s.port}  age ${s.age_seconds} s  ${s.state}  container ${s.container_id}  client ${s.client_id || '-'}  ${expiry(s.expires_at)}`),
        `containers (${stat.containers.length}):`,
        ...stat.containers.map((c) => `  ${c.id}  port ${c.port}`),
      ],
    };
  });
};

/** The outcome of a protocol STAT sent to `where` (no credential in it). */
function protocolStat(response: AnweddolResponse, where: string) {
  if (!response.success) throw new CliError(`server answered ${response.message}`, { response });
  const d = response.data as { version: string; uptime: number; available: number | string };
  return {
    message: 'STAT answered',
    data: response.data,
    lines: [`${where}: version ${d.version}, uptime ${d.uptime} s, available ${String(d.available)}`],
  };
}

async function amqpStat(url: string, queue: string): Promise<AnweddolResponse> {
  let client: AnweddolAmqpClient;
  try {
    client = await AnweddolAmqpClient.connect({ url, queue, timeoutMs: 15_000 });
  } catch (error) {
    throw new CliError(`cannot reach the broker ${brokerName(url)} (${error instanceof Error ? error.message.replace(/amqps?:\/\/\S*/g, '…') : 'error'})`);
  }
  try {
    return await client.stat();
  } catch (error) {
    throw new CliError(`${brokerName(url)}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await client.close();
  }
}

function expiry(expiresAt: number | null): string {
  if (expiresAt === null) return 'no lifetime limit';
  return `expires in ${Math.max(0, expiresAt - Math.floor(Date.now() / 1000))} s`;
}
