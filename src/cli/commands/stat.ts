// `stat`: the admin view of a running daemon (admin channel), or a protocol STAT to any server (--host).
import type { Command } from 'commander';
import { AnweddolTcpClient } from '../../client/tcp-client.js';
import { CliError } from '../cli-output.js';
import { describeCommand, readConfig, runCommand, type CommandRegistrar, type CommonOptions } from '../command-kit.js';
import { adminRequest, AdminRequestError } from '../../daemon/admin-channel.js';

interface StatOptions extends CommonOptions {
  host?: string;
  port: string;
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
}

export const registerStat: CommandRegistrar = (program: Command, ctx) => {
  const command = program
    .command('stat')
    .summary('show sessions, containers and counters of the running server')
    .option('--host <address>', 'instead: send a protocol STAT request to this server over TCP')
    .option('--port <port>', 'with --host: the server port', '6150');
  describeCommand(command, {
    description: [
      'Without --host: asks the local daemon over its admin channel (server.admin_socket_path, a',
      'unix socket only root/the daemon user can open) for its sessions (age, forwarded port, client id, deadline),',
      'containers, runtime errors, connections served and refusals by each per-client limit.',
      'With --host: performs a full Anweddol key exchange and STAT request, as a client would.',
    ].join('\n'),
    examples: ['anweddol-server stat', 'anweddol-server stat --json', 'anweddol-server stat --host 127.0.0.1 --port 6150 --json'],
  });
  runCommand<StatOptions>(command, async (options) => {
    if (options.host !== undefined) {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CliError(`--port must be a port number, got ${JSON.stringify(options.port)}`);
      const response = await new AnweddolTcpClient({ host: options.host, port, rsaKeyBits: 2048, timeoutMs: 15_000 }).stat();
      if (!response.success) throw new CliError(`server answered ${response.message}`, { response });
      const d = response.data as { version: string; uptime: number; available: number | string };
      return {
        message: 'STAT answered',
        data: response.data,
        lines: [`${options.host}:${port}: version ${d.version}, uptime ${d.uptime} s, available ${String(d.available)}`],
      };
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
        `sessions (${stat.sessions.length}):`,
        ...stat.sessions.map((s) => `  #${s.id}  port ${s.port}  age ${s.age_seconds} s  ${s.state}  container ${s.container_id}  client ${s.client_id || '-'}  ${expiry(s.expires_at)}`),
        `containers (${stat.containers.length}):`,
        ...stat.containers.map((c) => `  ${c.id}  port ${c.port}`),
      ],
    };
  });
};

function expiry(expiresAt: number | null): string {
  if (expiresAt === null) return 'no lifetime limit';
  return `expires in ${Math.max(0, expiresAt - Math.floor(Date.now() / 1000))} s`;
}
