// `start`, `stop`, `restart`, `status`: the daemon's lifecycle, through its pid file and admin channel.
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { CliError, type CliOutput, type CliResult } from '../cli-output.js';
import { describeCommand, readConfig, runCommand, type CommandContext, type CommandRegistrar, type CommonOptions, type LoadedConfig } from '../command-kit.js';
import { confirm, type PromptAnswers } from '../confirm.js';
import { adminRequest, AdminRequestError } from '../../daemon/admin-channel.js';
import type { ListenerInfo } from '../../daemon/daemon.js';
import { daemonize } from '../../daemon/daemonize.js';
import { inspectPidFile, isProcessAlive, runningPid } from '../../daemon/pid-file.js';
import { describePool } from './stat.js';

interface StartOptions extends CommonOptions, PromptAnswers {
  foreground?: boolean;
  web?: boolean;
  check?: boolean;
  skipCheck?: boolean;
  enableStdoutLog?: boolean;
  enableTracebackLog?: boolean;
  plugin?: string[];
}

/** Repeatable `--plugin <path>` (start and restart). */
function pluginOption(command: Command, note: string): Command {
  return command.option('--plugin <path>', `load this plugin module after the ones in plugins: (repeatable${note})`, (path: string, list: string[] | undefined) => [...(list ?? []), path]);
}

/** `--plugin` paths (relative to the current folder) appended to the config's `plugins:`. */
function withPlugins(loaded: LoadedConfig, paths: readonly string[]): LoadedConfig {
  loaded.config.plugins.push(...paths.map((path) => ({ path: resolve(path), config: {} })));
  return loaded;
}

const STOP_TIMEOUT_MS = 120_000;

function describeListeners(listeners: ListenerInfo[]): string[] {
  return listeners.map((l) => `  ${l.transport.padEnd(5)} ${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}`);
}

/** The running daemon's pid; a stale pid file is removed with a one-line notice. */
function daemonPid(loaded: LoadedConfig, output: CliOutput): number | undefined {
  return runningPid(loaded.config.server.pid_file_path, (line) => output.progress(line));
}

async function runForeground(loaded: LoadedConfig, options: StartOptions, output: CliOutput): Promise<undefined> {
  const pid = daemonPid(loaded, output);
  if (pid !== undefined) throw new CliError(`the server is already running (pid ${pid})`, { pid });
  // Handlers first: a SIGTERM/SIGINT that arrives while the daemon starts stops it once started, instead of killing it half-built.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  // Node exits on SIGHUP by default; here it only reopens the log (systemd's ExecReload, logrotate's postrotate).
  let reopenLog = () => {};
  const onHangup = () => reopenLog();
  process.on('SIGHUP', onHangup);
  // Loaded on demand: the daemon pulls in fastify, dockerode and SQLite, which other commands never need.
  const { startDaemon } = await import('../../daemon/daemon.js');
  const daemonOptions = { web: options.web, logToStdout: !output.json || options.enableStdoutLog === true, logStackTraces: options.enableTracebackLog };
  const daemon = await startDaemon(loaded.config, daemonOptions).catch((error: unknown) => {
    // Exit now: a plugin's module may hold timers or sockets that would keep a failed start alive.
    process.exit(output.failure(new CliError(`cannot start: ${error instanceof Error ? error.message : String(error)}`)));
  });
  const listeners = daemon.listeners();
  output.success({
    message: 'Server started',
    data: { pid: process.pid, listeners },
    lines: [`Server started in the foreground (pid ${process.pid}), Ctrl+C to stop`, ...describeListeners(listeners)],
  });
  reopenLog = () => daemon.reopenLog();
  const signal = await stopSignal;
  process.off('SIGHUP', onHangup);
  // A second signal while stopping forces the exit.
  process.once(signal, () => process.exit(1));
  await daemon.stop();
  process.exit(0);
}

async function startInBackground(loaded: LoadedConfig, options: StartOptions, ctx: CommandContext, output: CliOutput): Promise<CliResult> {
  const pid = daemonPid(loaded, output);
  if (pid !== undefined) throw new CliError(`the server is already running (pid ${pid})`, { pid });
  output.progress('starting the server...');
  const started = await daemonize({
    ...ctx.entry,
    configPath: loaded.path,
    web: options.web === true,
    logStackTraces: options.enableTracebackLog,
    plugins: (options.plugin ?? []).map((path) => resolve(path)),
    adminSocketPath: loaded.config.server.admin_socket_path,
    env: process.env,
  }).catch((error: unknown) => {
    // The detached daemon's own one-line reason, not an "unexpected error".
    throw new CliError(error instanceof Error ? error.message : String(error));
  });
  const listeners = (started.status.listeners ?? []) as ListenerInfo[];
  return {
    message: 'Server started',
    data: { pid: started.pid, listeners },
    lines: [`Server started (pid ${started.pid})`, ...describeListeners(listeners)],
  };
}

async function stopServer(loaded: LoadedConfig, output: CliOutput): Promise<{ pid?: number }> {
  const pid = daemonPid(loaded, output);
  if (pid === undefined) return {};
  process.kill(pid, 'SIGTERM');
  output.progress(`stopping the server (pid ${pid})...`);
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) throw new CliError(`the server (pid ${pid}) did not stop within ${STOP_TIMEOUT_MS / 1000} s`, { pid });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { pid };
}

function checkFailure(problems: string[], hint = ''): CliError {
  const summary = `check found ${problems.length} problem${problems.length === 1 ? '' : 's'}${hint}`;
  // errors_recorded/errors_list: the keys Anweddol's `start -c --json` answered with.
  return new CliError(summary, { problems, errors_recorded: problems.length, errors_list: problems }, problems.map((p) => `  - ${p}`));
}

async function checkOnly(loaded: LoadedConfig, options: StartOptions): Promise<CliResult> {
  const { checkEnvironment } = await import('../../daemon/environment-check.js');
  // Read only: a check changes nothing, not even a stale pid file.
  const found = inspectPidFile(loaded.config.server.pid_file_path);
  const problems = [
    ...(found.state === 'running' ? [`server.pid_file_path: the server is already running (pid ${found.pid})`] : []),
    ...(await checkEnvironment(loaded.config, { web: options.web })),
  ];
  if (problems.length > 0) throw checkFailure(problems);
  return { message: 'Check passed: the server can start', data: { problems: [], errors_recorded: 0, errors_list: [] } };
}

/** Every problem that would stop the start, listed at once; Docker is left out: the server starts without it and waits. */
async function checkBeforeStart(loaded: LoadedConfig, options: StartOptions): Promise<void> {
  const { checkEnvironment } = await import('../../daemon/environment-check.js');
  const problems = await checkEnvironment(loaded.config, { web: options.web, docker: false });
  if (problems.length > 0) throw checkFailure(problems, ', nothing started (--skip-check starts anyway)');
}

/** A running server is replaced only on a yes (-y, or a terminal answer); otherwise start fails as before. */
async function replaceRunningServer(loaded: LoadedConfig, options: StartOptions, output: CliOutput): Promise<void> {
  const pid = daemonPid(loaded, output);
  if (pid === undefined) return;
  if (!(await confirm(`The server is already running (pid ${pid}). Stop it and start a new one?`, options, !output.json))) {
    throw new CliError(`the server is already running (pid ${pid}); -y replaces it`, { pid });
  }
  await stopServer(loaded, output);
}

export const registerServerLifecycle: CommandRegistrar = (program: Command, ctx) => {
  const start = pluginOption(
    program
      .command('start')
      .summary('start the server (daemon by default)')
      .option('-d, --foreground', "run in the parent terminal, Anweddol's direct mode (SIGTERM/SIGINT stop it gracefully, SIGHUP reopens the log file); logs also go to stdout")
      .option('--web', 'also serve the REST interface (as web_server.enabled: true does)')
      .option('-c, --check', 'only verify the environment and list every problem')
      .option('--skip-check', 'start without the pre-start environment check')
      .addOption(new Option('-y, --assume-yes', 'answer yes to questions: a running server is stopped and replaced').conflicts('assumeNo'))
      .option('-n, --assume-no', 'answer no to questions: a running server is left alone and start fails')
      .option('--enable-stdout-log', 'with -d: copy log lines to stdout even with --json')
      .option('--enable-traceback-log', 'also log the stack trace of every runtime error'),
    '',
  );
  describeCommand(start, {
    description: [
      'Starts anweddol-server from the configuration: RSA key pair (loaded, or generated at the',
      'configured paths on first start, or one-time keys), SQLite database, Docker backend, access',
      'tokens, IP filter, log file, the TCP listener, REST when enabled, and the local admin channel.',
      'Without --foreground the server detaches, writes server.pid_file_path and this command',
      'returns once it answers, printing its pid. With --check nothing starts: the configuration,',
      'ports, keys, database, log/pid folders, Docker, the sandbox image, whether the egress rules',
      '(network.egress) can be installed, and every plugin (imported, config checked against its',
      'configSchema; register() does not run) are verified.',
      'Before starting, the same check runs without Docker (the server starts without it and waits);',
      'every problem is listed and nothing starts. --skip-check skips it.',
      'When a server already runs, start asks whether to replace it (-y: yes, -n: no; without a',
      'terminal the answer is no). The flags are those of Anweddol 4.x, next to the long forms.',
      'Plugins (plugins: in the configuration, then each --plugin) register before any listener opens;',
      'a plugin that cannot load or register stops the start with one line naming it.',
    ].join('\n'),
    examples: [
      'anweddol-server start',
      'anweddol-server start --foreground --web',
      'anweddol-server start --plugin ./audit-log.mjs --plugin /opt/anweddol/hello.mjs',
      'anweddol-server start --check --json',
      'anwdlserver start --json -y   (Anweddol 4.x unit ExecStart)',
    ],
  });
  runCommand<StartOptions>(start, async (options, output) => {
    const loaded = withPlugins(readConfig(options, ctx), options.plugin ?? []);
    if (options.check) return checkOnly(loaded, options);
    await replaceRunningServer(loaded, options, output);
    if (!options.skipCheck) await checkBeforeStart(loaded, options);
    const web = options.web === true || loaded.config.web_server.enabled;
    const { exposureWarnings } = await import('../../daemon/exposure-warnings.js');
    const { seccompProfileWarnings } = await import('../../daemon/seccomp-profile-file.js');
    for (const warning of [...exposureWarnings(loaded.config, { web }), ...seccompProfileWarnings(loaded.config)]) output.warning(warning);
    if (options.foreground) return runForeground(loaded, options, output);
    if (options.enableStdoutLog) output.progress(`note: --enable-stdout-log applies with -d only; the detached server logs to ${loaded.config.server.log_file_path}`);
    return startInBackground(loaded, options, ctx, output);
  });

  const stop = program.command('stop').summary('stop the server');
  describeCommand(stop, {
    description: [
      'Sends SIGTERM to the daemon named by server.pid_file_path and waits until it has exited:',
      'it stops accepting, finishes requests in flight, destroys its sandboxes (container.destroy_on_stop)',
      'and removes its pid file. Stopping a server that is not running is not an error. A stale pid',
      'file (dead pid, or a pid the system gave to another program) is removed with a notice.',
    ].join('\n'),
    examples: ['anweddol-server stop', 'anweddol-server stop --json'],
  });
  runCommand<CommonOptions>(stop, async (options, output) => {
    const { pid } = await stopServer(readConfig(options, ctx), output);
    return pid === undefined
      ? { message: 'Server is not running', data: { was_running: false } }
      : { message: 'Server stopped', data: { was_running: true, pid } };
  });

  const restart = pluginOption(program.command('restart').summary('stop then start the server').option('--web', 'serve REST after the restart'), '; not remembered from start');
  describeCommand(restart, {
    description: [
      'Stops the running daemon (if any), then starts it again in the background with the current',
      'configuration (re-reading it). A daemon that served REST (--web) serves it again. Plugins',
      'given to start with --plugin are not remembered: give them again (or list them in plugins:).',
    ].join('\n'),
    examples: ['anweddol-server restart', 'anweddol-server restart --web --json'],
  });
  runCommand<StartOptions>(restart, async (options, output) => {
    const loaded = readConfig(options, ctx);
    // A daemon started with --web keeps serving REST after a restart.
    const before = (await adminRequest(loaded.config.server.admin_socket_path, 'status').catch(() => undefined)) as { listeners?: ListenerInfo[] } | undefined;
    const hadWeb = before?.listeners?.some((l) => l.transport !== 'tcp') === true;
    await stopServer(loaded, output);
    return startInBackground(loaded, { ...options, web: options.web === true || hadWeb }, ctx, output);
  });

  const status = program.command('status').summary('is the server running?');
  describeCommand(status, {
    description: [
      'Reports whether the daemon runs (pid file), and from its admin channel: pid, uptime,',
      'listeners, running sandboxes, free slots and Docker backend availability. A pid file whose',
      'process is gone or is not anweddol-server is stale: it is removed, with a one-line notice.',
    ].join('\n'),
    examples: ['anweddol-server status', 'anweddol-server status --json'],
    exitStatus: ['3  the server is not running'],
  });
  runCommand<CommonOptions>(status, async (options, output) => {
    const loaded = readConfig(options, ctx);
    const { config } = loaded;
    const pid = daemonPid(loaded, output);
    if (pid === undefined) return { message: 'Server is not running', data: { running: false }, exitCode: 3 };
    let info: Record<string, unknown>;
    try {
      info = (await adminRequest(config.server.admin_socket_path, 'status')) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof AdminRequestError) throw new CliError(`process ${pid} is alive but its admin channel does not answer (${error.message})`, { running: true, pid });
      throw error;
    }
    const listeners = info.listeners as ListenerInfo[];
    const backend = info.backend as { name: string; available: boolean };
    return {
      message: 'Server is running',
      data: info,
      lines: [
        `Server is running (pid ${pid}, version ${String(info.version)})`,
        `  uptime:    ${String(info.uptime)} s`,
        `  sandboxes: ${String(info.sandboxes)} running, ${String(info.available)} available`,
        `  pool:      ${describePool(info.pool as Parameters<typeof describePool>[0])}`,
        `  backend:   ${backend.name} ${backend.available ? 'reachable' : 'UNREACHABLE'}`,
        '  listeners:',
        ...describeListeners(listeners).map((l) => `  ${l}`),
      ],
    };
  });
};
