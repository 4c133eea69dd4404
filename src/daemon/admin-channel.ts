// The local admin channel: a unix socket (mode 0600) speaking newline-delimited JSON, one request per line.
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { silentLogger, type Logger } from '../shared/logger.js';

/** Request: `{"id", "method", "params"}`. Answers: `{"id", "event"}` lines (progress), then `{"id", "ok", "result"|"error"}`. */
export interface AdminRequestLine {
  id: number;
  method: string;
  params?: Record<string, unknown>;
}

export interface AdminCallContext {
  /** Sends a progress event to the caller before the final answer. */
  notify(event: unknown): void;
  /** Aborted when the caller disconnects or the daemon stops. */
  signal: AbortSignal;
}

export type AdminHandler = (params: Record<string, unknown>, ctx: AdminCallContext) => unknown;

/** A failure the caller should see verbatim (other errors answer "internal error"). */
export class AdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminError';
  }
}

/** Method table of the admin channel; the daemon and its extensions (FL) register methods here. */
export class AdminRouter {
  private readonly handlers = new Map<string, AdminHandler>();

  register(method: string, handler: AdminHandler): this {
    if (this.handlers.has(method)) throw new Error(`admin method ${method} registered twice`);
    this.handlers.set(method, handler);
    return this;
  }

  methods(): string[] {
    return [...this.handlers.keys()].sort();
  }

  async call(method: string, params: Record<string, unknown>, ctx: AdminCallContext): Promise<unknown> {
    const handler = this.handlers.get(method);
    if (handler === undefined) throw new AdminError(`unknown admin method ${JSON.stringify(method)}`);
    return handler(params, ctx);
  }
}

const MAX_LINE_BYTES = 1024 * 1024;

export class AdminChannel {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly closing = new AbortController();

  constructor(
    readonly socketPath: string,
    private readonly router: AdminRouter,
    private readonly logger: Logger = silentLogger,
  ) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.socketPath), { recursive: true, mode: 0o750 });
    await removeStaleSocket(this.socketPath);
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Bind happens synchronously inside listen(): the umask makes the socket 0600 from birth.
      const previous = process.umask(0o177);
      try {
        server.listen(this.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(previous);
      }
    });
    chmodSync(this.socketPath, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    this.closing.abort();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (existsSync(this.socketPath)) unlinkSync(this.socketPath);
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    const disconnected = new AbortController();
    const signal = AbortSignal.any([disconnected.signal, this.closing.signal]);
    socket.on('close', () => {
      this.sockets.delete(socket);
      disconnected.abort();
    });
    socket.on('error', () => socket.destroy());
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE_BYTES) {
        buffered = '';
        socket.removeAllListeners('data');
        write(socket, { id: null, ok: false, error: 'request line too long' });
        socket.end();
        return;
      }
      let newline: number;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim() !== '') void this.answer(socket, line, signal);
      }
    });
  }

  private async answer(socket: Socket, line: string, signal: AbortSignal): Promise<void> {
    let request: AdminRequestLine;
    try {
      request = JSON.parse(line) as AdminRequestLine;
      if (typeof request !== 'object' || request === null || typeof request.method !== 'string') throw new Error();
    } catch {
      write(socket, { id: null, ok: false, error: 'malformed request line' });
      return;
    }
    const id = request.id ?? null;
    try {
      const params = typeof request.params === 'object' && request.params !== null ? request.params : {};
      const result = await this.router.call(request.method, params, { notify: (event) => write(socket, { id, event }), signal });
      write(socket, { id, ok: true, result: result ?? null });
    } catch (error) {
      const known = error instanceof AdminError;
      if (!known) this.logger.error(`admin method ${request.method} failed: ${error instanceof Error ? error.message : String(error)}`);
      write(socket, { id, ok: false, error: known ? error.message : `internal error in ${request.method}` });
    }
  }
}

function write(socket: Socket, message: object): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`);
}

/** A socket file left by a dead daemon is removed; one a live daemon answers on is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new Error(`${path}: another daemon answers on this admin socket`);
  unlinkSync(path);
}

export interface AdminRequestOptions {
  /** 0 = no deadline (long calls such as an FL training). Default 10 s. */
  timeoutMs?: number;
  onEvent?: (event: unknown) => void;
}

/** Error raised by adminRequest: `unreachable` when no daemon listens on the socket. */
export class AdminRequestError extends Error {
  constructor(
    message: string,
    readonly unreachable = false,
  ) {
    super(message);
    this.name = 'AdminRequestError';
  }
}

/** Calls one admin method on a running daemon. */
export function adminRequest(socketPath: string, method: string, params: Record<string, unknown> = {}, options: AdminRequestOptions = {}): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise<unknown>((resolve, reject) => {
    const socket = createConnection(socketPath);
    let settled = false;
    const timer = timeoutMs > 0 ? setTimeout(() => finish(new AdminRequestError(`admin request ${method} timed out after ${timeoutMs} ms`)), timeoutMs) : undefined;
    const finish = (error: Error | undefined, result?: unknown) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(result);
    };
    socket.once('connect', () => socket.write(`${JSON.stringify({ id: 1, method, params })}\n`));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const unreachable = error.code === 'ENOENT' || error.code === 'ECONNREFUSED';
      finish(new AdminRequestError(unreachable ? `no daemon answers on ${socketPath}` : `admin channel: ${error.message}`, unreachable));
    });
    socket.on('close', () => finish(new AdminRequestError('admin channel closed before answering')));
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let message: { event?: unknown; ok?: boolean; result?: unknown; error?: string };
        try {
          message = JSON.parse(line) as typeof message;
        } catch {
          finish(new AdminRequestError('admin channel sent a malformed line'));
          return;
        }
        if ('event' in message) options.onEvent?.(message.event);
        else if (message.ok) finish(undefined, message.result);
        else finish(new AdminRequestError(message.error ?? 'admin request failed'));
      }
    });
  });
}
