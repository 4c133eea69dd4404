// `dashboard-url`: a one-time login URL for the inspector dashboard (admin channel), the only way in.
import type { Command } from 'commander';
import { callDaemon, describeCommand, runCommand, type CommandRegistrar, type CommonOptions } from '../command-kit.js';

export const registerDashboardUrl: CommandRegistrar = (program: Command, ctx) => {
  const command = program.command('dashboard-url').summary('print a one-time login URL for the dashboard');
  describeCommand(command, {
    description: [
      'Asks the running daemon (admin channel) for a URL to the dashboard on the metrics listener',
      '(metrics.bind_address:metrics.listen_port, /dashboard/). The URL carries a one-time token, valid',
      'for 5 minutes, that becomes a session cookie lasting metrics.dashboard_session_ttl seconds.',
      'From another machine, forward the port first: ssh -L 9150:127.0.0.1:9150 admin@server,',
      'then open the URL (same port) in a local browser.',
    ].join('\n'),
    examples: ['anweddol-server dashboard-url', 'anweddol-server dashboard-url --json'],
  });
  runCommand<CommonOptions>(command, async (options) => {
    const r = (await callDaemon(options, ctx, 'dashboard-url', {})) as { url: string; expires_in_seconds: number; session_ttl_seconds: number };
    return { message: 'Dashboard login URL (one use)', data: r, lines: [r.url] };
  });
};
