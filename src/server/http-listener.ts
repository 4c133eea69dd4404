// The REST transport (docs/protocol.md §3): HTTP(S) framing around the server's one request chain.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AddressInfo, Socket } from 'node:net';
import { badRequest, internalError, refusedRequest } from './errors.js';
import { checkOrigin, checkVerbRequest, type RestRefusal } from './rest-request-policy.js';
import type { RefusalReason } from './server-observer.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import type { AnweddolResponse, ClientInfo, Transport } from './types.js';

/** What the listener needs from AnweddolServer: client ids, its dispatcher, its IP policy, connection and answer accounting, and the undelivered-response undo. */
export interface HttpDispatchTarget {
  /** The ClientInfo of a peer, with the keyed id logs use. */
  clientInfo(address: string | undefined, port: number | undefined, transport: Transport): ClientInfo;
  dispatch(request: unknown, client: ClientInfo): Promise<AnweddolResponse>;
  isAllowed(address: string): boolean;
  connectionAccepted(client: ClientInfo): Promise<{ refused: boolean; reason?: string }>;
  /** The per-client connection cap: a release for when the socket closes, or undefined to close it at once. */
  admitConnection(client: ClientInfo): (() => void) | undefined;
  connectionClosed(client: ClientInfo, state: string): Promise<void>;
  undoUndelivered(response: AnweddolResponse, client: ClientInfo): Promise<void>;
  /** A body that is not JSON: answered (and announced, counted) as on every transport. */
  rejectMalformed(client: ClientInfo, reason: string): Promise<AnweddolResponse>;
  /** Counts an answer given here, outside the request chain, with the refusal it was (metrics). */
  answeredByTransport(verb: string | undefined, response: AnweddolResponse, transport: Transport, refusal?: RefusalReason): void;
}

/** `state` of `client_closed` for a REST request. */
export type HttpClosedState = 'Refused' | 'Responded' | 'Disconnected';

export interface HttpListenerOptions {
  server: HttpDispatchTarget;
  bindAddress?: string;
  /** 0 = ephemeral (tests). */
  port?: number;
  /** HTTPS when present. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Request body cap in bytes; larger bodies get HTTP 413. */
  maxBodySize?: number;
  /** Time a client has to send its whole request (headers and body), in ms; default 10 000. Slow senders are cut off. */
  requestTimeoutMs?: number;
  /** Browser origins (`scheme://host[:port]`) whose pages may call this API; a request with any other Origin gets 403. Default none. */
  allowedOrigins?: readonly string[];
  logger?: Logger;
}

export const WELCOME_RESPONSE: AnweddolResponse = {
  success: true,
  message:
    'Hello and welcome to this Anweddol server HTTP REST API. This server provides disposable, SSH-reachable sandboxes.',
  data: {
    links: ['https://the-anweddol-project.github.io/', 'https://github.com/the-anweddol-project/'],
    verbs: 'POST /<verb> with the parameters object as a JSON body (Content-Type: application/json); GET /stat',
  },
};

export class HttpListener {
  private app: FastifyInstance | undefined;
  private readonly logger: Logger;
  private readonly transport: 'http' | 'https';
  /** Requests whose answer is counted already (by the request chain, or where refused); the others are counted as they are sent. */
  private readonly counted = new WeakSet<FastifyRequest>();

  constructor(private readonly options: HttpListenerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.transport = options.tls ? 'https' : 'http';
  }

  /** A fastify instance cannot listen again once closed: each start builds a fresh one (server restart). */
  private build(): FastifyInstance {
    const options = this.options;
    const bodyLimit = options.maxBodySize ?? 65536;
    // The https/http overloads of fastify() differ only in the server type; one instance type serves both here.
    const factory = Fastify as unknown as (opts: object) => FastifyInstance;
    const app = factory({
      logger: false,
      bodyLimit,
      // Bounds receiving the request only, not a long CREATE being answered (an idle-socket timeout would).
      requestTimeout: options.requestTimeoutMs ?? 10_000,
      routerOptions: { ignoreTrailingSlash: true },
      ...(options.tls ? { https: { key: options.tls.key, cert: options.tls.cert } } : {}),
    });
    // Bodies are read raw and parsed here, so malformed JSON is a protocol answer (200), not a fastify 400.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
    // Per-client connection cap at accept, as on TCP: a socket over the cap is never read, so it costs nothing.
    app.server.on('connection', (socket: Socket) => {
      const release = this.options.server.admitConnection(this.options.server.clientInfo(socket.remoteAddress, socket.remotePort, this.transport));
      if (release === undefined) socket.destroy();
      else socket.once('close', release);
    });
    // Before routing and body reading: a refused browser request costs nothing and reaches nothing.
    const allowedOrigins = new Set(options.allowedOrigins ?? []);
    app.addHook('onRequest', async (req, reply) => {
      const refusal = checkOrigin(req.headers.origin, allowedOrigins);
      if (refusal !== undefined) return this.refuse(req, reply, refusal);
    });
    // Every answer is counted once: those of the request chain there, every other one (welcome, 404, 413, IP filter, veto) here.
    app.addHook('preSerialization', async (req, _reply, payload: unknown) => {
      if (!this.counted.has(req) && isAnweddolResponse(payload)) this.options.server.answeredByTransport(verbOf(req), payload, this.transport);
      return payload;
    });
    app.route({
      method: ['GET', 'POST'],
      url: '/',
      handler: async (req) => {
        const client = this.options.server.clientInfo(req.socket.remoteAddress, req.socket.remotePort, this.transport);
        return this.options.server.isAllowed(client.address) ? WELCOME_RESPONSE : refusedRequest().toResponse();
      },
    });
    app.all('/:verb', {
      onRequest: async (req, reply) => {
        const refusal = checkVerbRequest(req.method, (req.params as { verb: string }).verb, req.headers['content-type']);
        if (refusal !== undefined) return this.refuse(req, reply, refusal);
      },
      handler: (req, reply) => this.handle(req, reply),
    });
    app.setNotFoundHandler((_req, reply) => reply.code(404).send(badRequest('Not found').toResponse()));
    app.setErrorHandler((error: { statusCode?: number; code?: string }, req, reply) => {
      const status = error.statusCode ?? 500;
      if (status === 413) return reply.code(413).send(badRequest('Request body too large').toResponse());
      if (status < 500) return reply.code(status).send(badRequest().toResponse());
      this.logger.error(`${this.transport}: ${req.method} failed (${error.code ?? 'unknown error'})`);
      return reply.code(500).send(internalError().toResponse());
    });
    return app;
  }

  async start(): Promise<void> {
    if (this.app !== undefined) throw new Error('HTTP listener is already started');
    const app = this.build();
    try {
      await app.listen({ host: this.options.bindAddress ?? '0.0.0.0', port: this.options.port ?? 8080 });
    } catch (error) {
      await app.close();
      throw error;
    }
    this.app = app;
    const { address, port } = this.address();
    this.logger.info(`${this.transport.toUpperCase()} listener on ${address}:${port}`);
  }

  async stop(): Promise<void> {
    const app = this.app;
    if (app === undefined) return;
    this.app = undefined;
    await app.close();
  }

  address(): { address: string; port: number } {
    const info = this.app?.server.address() as AddressInfo | null | undefined;
    if (info === null || info === undefined) throw new Error('HTTP listener is not listening');
    return { address: info.address, port: info.port };
  }

  url(): string {
    const { address, port } = this.address();
    const host = address.includes(':') ? `[${address}]` : address;
    return `${this.transport}://${host}:${port}`;
  }

  private refuse(req: FastifyRequest, reply: FastifyReply, refusal: RestRefusal): FastifyReply {
    const client = this.options.server.clientInfo(req.socket.remoteAddress, req.socket.remotePort, this.transport);
    this.logger.info(`client ${client.id}: ${req.method} refused with HTTP ${refusal.status} (${refusal.reason}, ${this.transport})`);
    if (refusal.status === 405) void reply.header('allow', refusal.allow);
    const answer = (refusal.status === 403 ? refusedRequest(refusal.reason) : badRequest(refusal.reason)).toResponse();
    this.counted.add(req);
    this.options.server.answeredByTransport(verbOf(req), answer, this.transport, refusal.status === 403 ? 'origin' : undefined);
    return reply.code(refusal.status).header('cache-control', 'no-store').send(answer);
  }

  private async handle(req: FastifyRequest, reply: FastifyReply): Promise<AnweddolResponse> {
    void reply.header('cache-control', 'no-store');
    const client = this.options.server.clientInfo(req.socket.remoteAddress, req.socket.remotePort, this.transport);
    if (!this.options.server.isAllowed(client.address)) {
      this.logger.warn(`client ${client.id}: refused by IP filter (${this.transport})`);
      return refusedRequest().toResponse();
    }
    // One request is one client, as one TCP connection is: counted, announced, and closed once its response is gone.
    const server = this.options.server;
    const accepted = server.connectionAccepted(client);
    reply.raw.once('close', () => {
      void accepted.then(({ refused }) => {
        const state: HttpClosedState = refused ? 'Refused' : reply.raw.writableFinished ? 'Responded' : 'Disconnected';
        return server.connectionClosed(client, state);
      });
    });
    const { refused, reason } = await accepted;
    if (refused) {
      this.logger.info(`client ${client.id}: refused by a connection_accepted hook (${this.transport})`);
      return refusedRequest(reason).toResponse();
    }
    const verb = (req.params as { verb: string }).verb.toUpperCase();
    const body = req.body as Buffer | undefined;
    let parameters: unknown = {};
    if (req.method === 'POST' && body !== undefined && body.length > 0) {
      try {
        parameters = JSON.parse(body.toString('utf8'));
      } catch {
        this.counted.add(req);
        return server.rejectMalformed(client, 'Malformed JSON');
      }
    }
    const socket = req.raw.socket;
    this.counted.add(req);
    const response = await this.options.server.dispatch({ verb, parameters }, client);
    // A client that left while its CREATE ran would leave a sandbox nobody can reach.
    if (socket.destroyed) await this.options.server.undoUndelivered(response, client);
    return response;
  }
}

/** The verb a request's path names (`/create` → CREATE); none for `/` or an unknown path. */
function verbOf(req: FastifyRequest): string | undefined {
  const verb = (req.params as { verb?: unknown } | undefined)?.verb;
  return typeof verb === 'string' ? verb.toUpperCase() : undefined;
}

function isAnweddolResponse(payload: unknown): payload is AnweddolResponse {
  return typeof payload === 'object' && payload !== null && typeof (payload as { message?: unknown }).message === 'string';
}
