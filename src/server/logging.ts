// The daemon's winston logger: `timestamp LEVEL message` lines to a rotating file and/or stdout.
import {
  closeSync,
  createReadStream,
  createWriteStream,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import winston from 'winston';
import TransportStream from 'winston-transport';
import type { Logger } from '../shared/logger.js';
import type { CreatedSandboxPayload, DestroyedSandboxPayload, FlSandboxMark } from './server-events.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LogRotationOptions {
  action: 'archive' | 'delete';
  /** Rotate after this many lines (null: no line limit). */
  maxLines: number | null;
  /** Rotate once the file reaches this many bytes (null: no size limit). */
  maxBytes: number | null;
  /** Where gzip archives go (action 'archive'). */
  archiveDir: string;
  /** Archives kept, oldest removed first (null: all). */
  maxArchives: number | null;
}

export interface LoggingOptions {
  level?: LogLevel;
  filePath?: string;
  /** Also write to stdout (foreground mode). */
  console?: boolean;
  rotation?: LogRotationOptions;
}

export interface ClosableLogger extends Logger {
  /** Flushes and closes the file; waits for archives being compressed. */
  close(): Promise<void>;
  /** Closes the file so the next line opens it again by path (after an external logrotate moved it away). */
  reopen(): void;
}

// A safety net under "secrets never reach a log line": long token-like runs and PEM private keys are masked.
const LONG_SECRET = /[A-Za-z0-9_-]{100,}/g;
const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;

export function redactSecrets(message: string): string {
  return message.replace(PRIVATE_KEY_BLOCK, '[redacted private key]').replace(LONG_SECRET, '[redacted]');
}

const lineFormat = winston.format.printf((info) => {
  const text = redactSecrets(String(info.message)).replace(/[\r\n]+/g, ' ');
  return `${String(info.timestamp)} ${info.level.toUpperCase()} ${text}`;
});

export function createLogger(options: LoggingOptions): ClosableLogger {
  const transports: TransportStream[] = [];
  let file: RotatingFileTransport | undefined;
  if (options.filePath !== undefined) {
    file = new RotatingFileTransport(options.filePath, options.rotation);
    transports.push(file);
  }
  if (options.console) transports.push(new winston.transports.Console());
  const logger = winston.createLogger({
    level: options.level ?? 'info',
    format: winston.format.combine(winston.format.timestamp(), lineFormat),
    transports: transports.length > 0 ? transports : [new winston.transports.Console({ silent: true })],
  });
  return {
    error: (message) => void logger.error(message),
    warn: (message) => void logger.warn(message),
    info: (message) => void logger.info(message),
    debug: (message) => void logger.debug(message),
    close: async () => {
      logger.close();
      await file?.closeFile();
    },
    reopen: () => file?.reopen(),
  };
}

/**
 * Appends each line synchronously (ordered, nothing lost on crash) and rotates by line count or size:
 * the full file is renamed aside and then gzipped into the archive folder, or deleted.
 */
export class RotatingFileTransport extends TransportStream {
  private fd: number;
  private lines = 0;
  private bytes = 0;
  private readonly pending = new Set<Promise<void>>();
  private sequence = 0;

  constructor(
    private readonly filePath: string,
    private readonly rotation?: LogRotationOptions,
  ) {
    super();
    mkdirSync(dirname(filePath), { recursive: true, mode: 0o750 });
    this.fd = this.open();
  }

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    const line = `${String(info[Symbol.for('message')])}\n`;
    const data = Buffer.from(line, 'utf8');
    // Logging never throws into the caller (a full disk, a log file moved away): report on stderr and go on.
    try {
      if (this.fd === -1) this.fd = this.open();
      writeSync(this.fd, data);
      this.lines += 1;
      this.bytes += data.length;
      if (this.shouldRotate()) this.rotate();
    } catch (error) {
      process.stderr.write(`anweddol: cannot write the log file ${this.filePath}: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
    }
    this.emit('logged', info);
    callback();
  }

  /** The next line opens the file by path again (a moved-away file keeps nothing more). */
  reopen(): void {
    if (this.fd === -1) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  async closeFile(): Promise<void> {
    if (this.fd !== -1) {
      closeSync(this.fd);
      this.fd = -1;
    }
    await Promise.all(this.pending);
  }

  private open(): number {
    const fd = openSync(this.filePath, 'a', 0o640);
    const size = statSync(this.filePath).size;
    this.bytes = size;
    this.lines = size === 0 || this.rotation?.maxLines == null ? 0 : countLines(readFileSync(this.filePath));
    return fd;
  }

  private shouldRotate(): boolean {
    const r = this.rotation;
    if (!r) return false;
    return (r.maxLines !== null && this.lines >= r.maxLines) || (r.maxBytes !== null && this.bytes >= r.maxBytes);
  }

  private rotate(): void {
    closeSync(this.fd);
    // Never keep a closed descriptor number: the OS may hand it to a socket or the database next.
    this.fd = -1;
    const r = this.rotation!;
    try {
      if (r.action === 'delete') {
        unlinkSync(this.filePath);
      } else {
        mkdirSync(r.archiveDir, { recursive: true, mode: 0o750 });
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        const name = `${basename(this.filePath)}.${stamp}.${(this.sequence++).toString().padStart(4, '0')}`;
        const rotated = join(r.archiveDir, name);
        renameSync(this.filePath, rotated);
        this.track(this.archive(rotated, r));
      }
      this.fd = this.open();
    } catch (error) {
      // Keep writing to the same file and try again after another full period, not on every line.
      this.fd = this.open();
      this.lines = 0;
      this.bytes = 0;
      process.stderr.write(`anweddol: log rotation of ${this.filePath} failed: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
    }
  }

  private async archive(rotated: string, r: LogRotationOptions): Promise<void> {
    await pipeline(createReadStream(rotated), createGzip(), createWriteStream(`${rotated}.gz`, { mode: 0o640 }));
    unlinkSync(rotated);
    if (r.maxArchives === null) return;
    const prefix = `${basename(this.filePath)}.`;
    const archives = readdirSync(r.archiveDir)
      .filter((name) => name.startsWith(prefix) && name.endsWith('.gz'))
      .sort();
    for (const name of archives.slice(0, Math.max(0, archives.length - r.maxArchives))) {
      rmSync(join(r.archiveDir, name), { force: true });
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work
      .catch((error: unknown) => {
        process.stderr.write(`log rotation failed: ${String(error)}\n`);
      })
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }
}

function countLines(data: Buffer): number {
  let count = 0;
  for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) count++;
  return count;
}

/** The events a server emits that it does not log itself; subscribe once, right after constructing it. */
interface ActivitySource {
  on(event: 'created_container', handler: (ctx: CreatedSandboxPayload) => unknown): unknown;
  on(event: 'destroyed_container', handler: (ctx: DestroyedSandboxPayload) => unknown): unknown;
}

/** One line per sandbox created or destroyed: client id (or FL training), container id, port and reason only (never uuid, token or password). */
export function logSandboxActivity(server: ActivitySource, logger: Logger): void {
  server.on('created_container', ({ client, fl, container_id, container_listen_port }) => {
    logger.info(`${owner(client, fl)}: sandbox ${container_id.slice(0, 12)} created, SSH on port ${container_listen_port}`);
  });
  server.on('destroyed_container', ({ client, fl, container_id, reason }) => {
    logger.info(`${owner(client, fl)}: sandbox ${container_id.slice(0, 12)} destroyed (${reason})`);
  });
}

function owner(client: { id: string } | null, fl: FlSandboxMark | null): string {
  if (fl !== null) return `FL training ${fl.training_uuid} ${fl.client_id}`;
  return client === null ? 'server' : `client ${client.id}`;
}
