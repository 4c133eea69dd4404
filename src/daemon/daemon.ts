// Builds the daemon from a validated config (keys, database, Docker backend, policies, logger, REST, admin channel) and runs it.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { INSTALL_KEY_BYTES, loadOrCreateInstallKey } from '../crypto/install-key.js';
import { RsaKeyPair } from '../crypto/rsa-key-pair.js';
import { AccessTokenStore } from '../database/access-token-store.js';
import { AnweddolDatabase } from '../database/database.js';
import { SqliteSessionStore } from '../database/sqlite-session-store.js';
import { AnweddolServer } from '../server/anweddol-server.js';
import { HttpListener } from '../server/http-listener.js';
import { IpFilter } from '../server/ip-filter.js';
import { createLogger, logSandboxActivity, type ClosableLogger } from '../server/logging.js';
import type { Logger } from '../shared/logger.js';
import { DiskLimitUnsupportedError } from '../virtualization/virtualization-errors.js';
import type { SandboxNetworkInfo, VirtualizationInterface } from '../virtualization/virtualization-interface.js';
import type { AnweddolConfig } from './config/config-schema.js';
import { packageVersion } from '../shared/package-info.js';
import { AdminChannel, AdminRouter } from './admin-channel.js';
import { registerAdminMethods } from './admin-methods.js';
import { createAmqpTransport } from './amqp-transport-factory.js';
import { checkRunAsUser, ignoredKeyWarnings, type ProcessIdentity } from './anweddol-compat.js';
import { daemonExtensions } from './daemon-extensions.js';
import { createEgressFirewall } from './egress-firewall-factory.js';
import { exposureWarnings } from './exposure-warnings.js';
import type { PluginEntry } from './plugins/plugin-api.js';
import { PluginHost } from './plugins/plugin-host.js';
import { loadPlugins } from './plugins/plugin-loader.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { seccompProfileWarnings } from './seccomp-profile-file.js';
import { createVirtualization, diskLimitProblem, portForwardingOf } from './virtualization-factory.js';

export interface DaemonOptions {
  /** Also serve REST (`start --web`), whatever web_server.enabled says. */
  web?: boolean;
  /** Copy log lines to stdout (foreground). */
  logToStdout?: boolean;
  /**
   * Builds the sandbox backend (default: `DockerVirtualization` from the config); it gets the daemon's logger, and
   * `beforeAvailable` (the egress rules), which it must run on every (re)connection before it reports itself available.
   */
  createVirtualization?: (
    config: AnweddolConfig,
    logger: Logger,
    beforeAvailable?: (network: SandboxNetworkInfo) => Promise<void>,
  ) => VirtualizationInterface;
  /** Also log the stack trace of every runtime error (`start --enable-traceback-log`). */
  logStackTraces?: boolean;
  /** Loaded after the config's `plugins:` (numbered on from them in messages). */
  plugins?: readonly PluginEntry[];
}

export interface ListenerInfo {
  transport: 'tcp' | 'http' | 'https';
  address: string;
  port: number;
}

export interface RunningDaemon {
  server: AnweddolServer;
  listeners(): ListenerInfo[];
  /** Graceful: extensions, server (sandboxes destroyed per config), admin channel, database, log, pid file. */
  stop(): Promise<void>;
  /** SIGHUP: reopens the log file by path (logrotate); nothing else is reloaded. */
  reopenLog(): void;
}

export function createDaemonLogger(config: AnweddolConfig, logToStdout: boolean): ClosableLogger {
  const r = config.log_rotation;
  return createLogger({
    filePath: config.server.log_file_path,
    level: config.server.log_level,
    console: logToStdout,
    rotation: r.enabled
      ? {
          action: r.action,
          maxLines: r.max_log_lines_amount,
          maxBytes: r.max_log_file_size === null ? null : r.max_log_file_size * 1024,
          archiveDir: r.log_archive_folder_path,
          maxArchives: r.max_archived_files,
        }
      : undefined,
  });
}

/** The key of client ids in logs: `client-id.key` next to the database, made on first start (random per run for `:memory:`). */
export function loadClientIdKey(config: AnweddolConfig): Buffer {
  const databasePath = config.database.file_path;
  if (databasePath === ':memory:') return randomBytes(INSTALL_KEY_BYTES);
  return loadOrCreateInstallKey(join(dirname(databasePath), 'client-id.key'));
}

export async function loadServerKeyPair(config: AnweddolConfig): Promise<RsaKeyPair> {
  const s = config.server;
  if (s.enable_onetime_rsa_keys) return RsaKeyPair.generate(s.rsa_key_size);
  return RsaKeyPair.loadOrGenerate(s.public_rsa_key_file_path, s.private_rsa_key_file_path, s.rsa_key_size);
}

export function readTlsFiles(config: AnweddolConfig): { key: Buffer; cert: Buffer } {
  const web = config.web_server;
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`${path}: cannot read the TLS ${what} (${(error as NodeJS.ErrnoException).code ?? 'error'}); run \`anweddol-server regen-tls\``, {
        cause: error,
      });
    }
  };
  return { key: read(web.ssl_pem_private_key_file_path, 'private key'), cert: read(web.ssl_pem_certificate_file_path, 'certificate') };
}

/** Who this process runs as; a uid without a passwd entry is named by its number. */
export function processIdentity(): ProcessIdentity {
  const uid = process.getuid?.() ?? -1;
  try {
    return { uid, username: userInfo().username };
  } catch {
    return { uid, username: String(uid) };
  }
}

export async function startDaemon(config: AnweddolConfig, options: DaemonOptions = {}): Promise<RunningDaemon> {
  const web = options.web === true || config.web_server.enabled;
  if (!config.server.enable_tcp && !web && !config.rabbitmq.enabled) {
    throw new Error('nothing to serve: server.enable_tcp is false, REST is off (use --web or web_server.enabled) and rabbitmq.enabled is false');
  }
  const runAs = checkRunAsUser(config.server.user, processIdentity());
  if (!runAs.ok) throw new Error(runAs.refusal);
  const logger = createDaemonLogger(config, options.logToStdout === true);
  // Anweddol 4.x keys that mean nothing here: accepted so its files load, never silently.
  for (const warning of [...ignoredKeyWarnings(config), ...(runAs.warning ? [runAs.warning] : [])]) logger.warn(warning);
  for (const warning of [...exposureWarnings(config, { web }), ...seccompProfileWarnings(config)]) logger.warn(warning);
  const cleanup: Array<() => Promise<void> | void> = [() => logger.close()];
  const unwind = async () => {
    for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => {});
    cleanup.length = 0;
  };
  try {
    // Imported and checked first: a bad plugin stops the start before anything is opened.
    const plugins = await loadPlugins([...config.plugins, ...(options.plugins ?? [])]);
    const rsaKeyPair = await loadServerKeyPair(config);
    const database = new AnweddolDatabase(config.database.file_path);
    cleanup.push(() => database.close());
    const sessions = new SqliteSessionStore(database);
    let accessTokens: AccessTokenStore | undefined;
    if (config.access_token.enabled) {
      const tokenPath = config.access_token.access_token_database_file_path;
      const tokenDatabase = tokenPath === config.database.file_path ? database : new AnweddolDatabase(tokenPath);
      if (tokenDatabase !== database) cleanup.push(() => tokenDatabase.close());
      accessTokens = new AccessTokenStore(tokenDatabase);
    }
    const ipFilter = config.ip_filter.enabled
      ? new IpFilter({ allowed: config.ip_filter.allowed_ip_list, denied: config.ip_filter.denied_ip_list })
      : undefined;
    // Checked before anything starts: no sandbox may exist without its egress rules.
    const egress = createEgressFirewall(config, logger);
    await egress?.preflight();
    const virtualization: VirtualizationInterface = (options.createVirtualization ?? createVirtualization)(
      config,
      logger,
      egress && ((network) => egress.install(network)),
    );
    const server = new AnweddolServer({
      bindAddress: config.server.bind_address,
      listenPort: config.server.listen_port,
      timeoutSeconds: config.server.timeout,
      maxConnections: config.server.max_connections,
      maxConnectionsPerClient: config.server.max_connections_per_client,
      ipv6ClientPrefixLength: config.server.ipv6_client_prefix_length,
      maxSandboxesPerClient: config.container.max_per_client,
      createRate: config.container.create_rate,
      maxFrameSize: config.server.max_frame_size,
      rsaKeyPair,
      virtualization,
      portForwarding: portForwardingOf(config),
      sessions,
      maxSandboxes: config.container.max_allowed_running_container_domains,
      destroyOnStop: config.container.destroy_on_stop,
      maxLifetimeSeconds: config.container.max_lifetime,
      maxRenewedLifetimeSeconds: config.container.max_renewed_lifetime,
      idleTimeoutSeconds: config.container.idle_timeout,
      warmPoolSize: config.container.warm_pool_size,
      warmPoolRefillConcurrency: config.container.warm_pool_refill_concurrency,
      warmPoolMaxAgeSeconds: config.container.warm_pool_max_age,
      logger,
      ipFilter: ipFilter && ((address) => ipFilter.isAllowed(address)),
      accessTokens,
      version: packageVersion(),
      enableTcp: config.server.enable_tcp,
      clientIdKey: loadClientIdKey(config),
    });
    logSandboxActivity(server, logger);
    if (options.logStackTraces) {
      // The server logs each runtime error in one line; this adds where it came from.
      server.on('runtime_error', ({ error, source }) => {
        if (error instanceof Error && error.stack) logger.error(`stack trace of the runtime error in ${source}: ${error.stack}`);
      });
    }
    let http: HttpListener | undefined;
    if (web) {
      http = new HttpListener({
        server,
        bindAddress: config.web_server.bind_address,
        port: config.web_server.listen_port,
        maxBodySize: config.web_server.max_body_size,
        allowedOrigins: config.web_server.allowed_origins,
        requestTimeoutMs: config.server.timeout * 1000,
        tls: config.web_server.enable_ssl ? readTlsFiles(config) : undefined,
        logger,
      });
      server.addTransport(http);
    }
    const amqp = createAmqpTransport(config, server, logger);
    if (amqp) server.addTransport(amqp);
    const listeners = (): ListenerInfo[] => {
      const out: ListenerInfo[] = [];
      const tcp = server.tcpAddress();
      if (tcp) out.push({ transport: 'tcp', address: tcp.address, port: tcp.port });
      if (http) out.push({ transport: config.web_server.enable_ssl ? 'https' : 'http', ...http.address() });
      return out;
    };

    const admin = new AdminRouter();
    registerAdminMethods(admin, { server, sessions, virtualization, listeners, rsaKeyPair });

    // Before any listener opens (a clash or a throwing register() stops the start); cleanups run after the server stopped.
    const pluginHost = new PluginHost({ server, admin, logger });
    cleanup.push(() => pluginHost.stop());
    await pluginHost.registerAll(plugins);

    const channel = new AdminChannel(config.server.admin_socket_path, admin, logger);
    await channel.start();
    cleanup.push(() => channel.stop());
    // Runs after server.stop (cleanup unwinds in reverse), once the sandboxes are gone; kept if they outlive us.
    if (egress) {
      cleanup.push(() =>
        config.container.destroy_on_stop ? egress.remove() : logger.info('egress rules kept: sandboxes outlive the daemon (container.destroy_on_stop: false)'),
      );
    }
    await server.start();
    cleanup.push(() => server.stop());
    // A failed install already failed server.start (a configuration error) or keeps the backend unavailable; this catches a
    // custom backend that never ran the installer.
    if (egress && virtualization.isAvailable() && !egress.isInstalled()) {
      throw new Error('the sandbox backend is available but never installed the egress rules (a custom createVirtualization must hand beforeAvailable to it)');
    }
    // After start: extensions may need the backend up (e.g. its gateway address); they stop before the server.
    for (const extension of daemonExtensions) {
      const handle = await extension({ config, server, database, virtualization, logger, admin });
      if (handle?.stop) cleanup.push(() => handle.stop!());
    }
    writePidFile(config.server.pid_file_path);
    cleanup.push(() => removePidFile(config.server.pid_file_path));
    // A crash still leaves its cause in the log and no pid file behind.
    const fatal = (error: unknown) => {
      logger.error(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      removePidFile(config.server.pid_file_path);
      process.exit(1);
    };
    process.once('uncaughtException', fatal);
    process.once('unhandledRejection', fatal);
    cleanup.push(() => {
      process.off('uncaughtException', fatal);
      process.off('unhandledRejection', fatal);
    });
    logger.info(`anweddol-server ${packageVersion()} started (pid ${process.pid}, key ${rsaKeyPair.fingerprint.slice(0, 16)}…)`);

    let stopping: Promise<void> | undefined;
    return {
      server,
      listeners,
      reopenLog: () => {
        logger.reopen();
        logger.info('SIGHUP: log file reopened (a changed configuration needs a restart)');
      },
      stop: () => {
        stopping ??= (async () => {
          logger.info('stopping');
          await unwind();
        })();
        return stopping;
      },
    };
  } catch (caught) {
    const error = caught instanceof DiskLimitUnsupportedError ? new Error(diskLimitProblem(caught), { cause: caught }) : caught;
    logger.error(`start failed: ${error instanceof Error ? error.message : String(error)}`);
    await unwind();
    throw error;
  }
}
