// The library API (ARCHITECTURE.md): an Anweddol server with typed events, custom verbs and pluggable transports.
import { OaepDecryptPool, type OaepDecryptor } from '../crypto/oaep-decrypt-pool.js';
import type { Sandbox } from '../virtualization/virtualization-interface.js';
import { POISON_REASONS, type PoisonReason } from './amqp/broker-delivery.js';
import { clientInfo } from './client-info.js';
import { lifetimePolicyOf } from './lifetimes/lifetime-policy.js';
import { createClientLimits, type ClientLimitRefusals, type ClientLimits } from './client-limits/client-limits.js';
import { badRequest } from './errors.js';
import type { Logger } from '../shared/logger.js';
import { RequestDispatcher, type RequestHandler } from './request-dispatcher.js';
import { SandboxCapacity, type CapacitySlot } from './sandbox-capacity.js';
import { SandboxForwarders } from './port-forwarding/sandbox-forwarders.js';
import { SandboxManager, createdPayload, type AdminDestroyOutcome, type DestroySelector } from './sandbox-manager.js';
import {
  ServerEvents,
  type ANWEDDOL_CALLBACKS,
  type AnweddolCallbackName,
  type CustomEventContext,
  type DestroyReason,
  type EventContext,
  type EventHandler,
  type FlSandboxMark,
  type ServerEventName,
} from './server-events.js';
import { ObserverSet, type RefusalReason, type ServerObserver } from './server-observer.js';
import { resolveServerOptions, type AnweddolServerOptions, type ResolvedServerOptions } from './server-options.js';
import { TcpListener } from './tcp-listener.js';
import type { AnweddolResponse, ClientInfo, Transport as ClientTransport } from './types.js';
import { builtInVerbs } from './verbs/built-in-verbs.js';
import { WarmPool, type WarmPoolStatistics } from './warm-pool/warm-pool.js';

export type { AnweddolServerOptions } from './server-options.js';

export interface Transport {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RuntimeStatistics {
  isRunning: boolean;
  runtimeErrors: number;
  /** Seconds since start (0 when stopped). */
  uptime: number;
  availableContainers: number | 'nolimit';
  connectionsServed: number;
  activeConnections: number;
  sessions: number;
  /** Requests and connections refused by each per-client limit since start. */
  clientLimitRefusals: ClientLimitRefusals;
  warmPool: WarmPoolStatistics;
  /** Broker messages rejected without requeue since start, by reason (all 0 without a broker transport). */
  poisonMessages: Record<PoisonReason, number>;
}

export type { RequestHandler, RequestContext } from './request-dispatcher.js';

const CREATE_CREDENTIAL_KEYS = ['container_uuid', 'client_token'] as const;

export class AnweddolServer {
  readonly options: ResolvedServerOptions;
  private readonly logger: Logger;
  private readonly events: ServerEvents;
  private readonly observers: ObserverSet;
  private readonly dispatcher: RequestDispatcher;
  private readonly capacity: SandboxCapacity;
  private readonly clientLimits: ClientLimits;
  private readonly sandboxes: SandboxManager;
  private readonly pool: WarmPool | undefined;
  private readonly forwarders: SandboxForwarders;
  private readonly transports: Transport[] = [];
  private tcp: TcpListener | undefined;
  private decryptor: OaepDecryptor | undefined;
  private startedAt: number | undefined;
  private runtimeErrors = 0;
  private connectionsServed = 0;
  private readonly poisonMessages = Object.fromEntries(POISON_REASONS.map((reason) => [reason, 0])) as Record<PoisonReason, number>;
  private state: 'stopped' | 'starting' | 'running' | 'stopping' = 'stopped';
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(options: AnweddolServerOptions) {
    this.options = resolveServerOptions(options);
    const o = this.options;
    this.logger = o.logger;
    this.observers = new ObserverSet(this.logger);
    const { maxSandboxesPerClient, createRate, maxConnectionsPerClient, ipv6ClientPrefixLength, clientIdKey } = o;
    this.clientLimits = createClientLimits({ maxSandboxesPerClient, createRate, maxConnectionsPerClient, ipv6ClientPrefixLength, clientIdKey, logger: o.logger, observer: this.observers });
    // A failing runtime_error handler is counted but not re-announced (no loop).
    this.events = new ServerEvents((event, error) => this.runtimeError(`event handler ${event}`, error, event !== 'runtime_error'), () => this.observers.refused('vetoed'));
    this.capacity = new SandboxCapacity(o.maxSandboxes, o.sessions);
    this.pool =
      o.virtualization === undefined
        ? undefined
        : new WarmPool({
            size: o.warmPoolSize,
            refillConcurrency: o.warmPoolRefillConcurrency,
            maxAgeMs: o.warmPoolMaxAgeSeconds === null ? null : o.warmPoolMaxAgeSeconds * 1000,
            virtualization: o.virtualization,
            capacity: this.capacity,
            createTimeoutMs: o.createTimeoutMs,
            logger: this.logger,
            onRuntimeError: (source, error) => this.runtimeError(source, error),
          });
    const forwarding = o.portForwarding ?? {};
    this.forwarders = new SandboxForwarders({
      mode: forwarding.mode ?? 'auto',
      listenAddress: forwarding.listenAddress ?? '0.0.0.0',
      ports: forwarding.ports,
      maxConnections: forwarding.maxConnections ?? 32,
      ...(forwarding.maxConnectionsPerSource === null ? {} : { maxConnectionsPerSource: forwarding.maxConnectionsPerSource ?? 8 }),
      events: this.events,
      logger: this.logger,
    });
    this.sandboxes = new SandboxManager({
      virtualization: o.virtualization,
      sessions: o.sessions,
      capacity: this.capacity,
      clientLimits: this.clientLimits,
      events: this.events,
      logger: this.logger,
      createTimeoutMs: o.createTimeoutMs,
      lifetime: lifetimePolicyOf(o),
      onRuntimeError: (source, error) => this.runtimeError(source, error),
      observer: this.observers,
      pool: this.pool,
      forwarders: this.forwarders,
    });
    this.dispatcher = new RequestDispatcher({
      events: this.events,
      logger: this.logger,
      accessTokens: o.accessTokens,
      onRuntimeError: (source, error) => this.runtimeError(source, error),
      observer: this.observers,
    });
    const verbs = builtInVerbs({ version: o.version, uptime: () => this.uptimeSeconds(), sandboxes: this.sandboxes });
    for (const [verb, handler] of Object.entries(verbs)) this.dispatcher.setHandler(verb, handler);
  }

  /** Our event names and Anweddol 4.x's callback names (`on_created_container`) both work; see docs/events.md. */
  on<E extends ServerEventName>(event: E, handler: EventHandler<EventContext<E>>): this;
  on<A extends AnweddolCallbackName>(event: A, handler: EventHandler<EventContext<(typeof ANWEDDOL_CALLBACKS)[A]>>): this;
  on(event: string, handler: EventHandler<CustomEventContext>): this;
  on(event: string, handler: EventHandler<never>): this {
    this.events.on(event, handler as EventHandler<CustomEventContext>);
    return this;
  }

  off(event: string, handler: EventHandler<never>): this {
    this.events.off(event, handler);
    return this;
  }

  /**
   * Emits any event (e.g. the FL coordinator's `fl_*` events). A custom event is vetoable only with
   * `{ vetoable: true }` (its handlers then get `ctx.refuse`); resolves to the refusal if a handler vetoed.
   */
  async emitEvent(event: string, payload: object = {}, options: { vetoable?: boolean } = {}): Promise<{ refused: boolean; reason?: string }> {
    const outcome = await this.events.emit(event, payload, options.vetoable === true);
    return outcome.refusal === undefined ? { refused: false } : { refused: true, reason: outcome.refusal.reason };
  }

  /**
   * Announces a sandbox made outside CREATE (an FL client) with `container_started` and `created_container`,
   * marked with `fl`; resolves to the veto if a handler refused (the caller then destroys it and calls
   * `announceSandboxDestroyed` with 'vetoed').
   */
  async announceSandboxCreated(sandbox: Sandbox, fl: FlSandboxMark): Promise<{ refused: boolean; reason?: string }> {
    const refusal = await this.sandboxes.announceCreated(createdPayload(sandbox, null, fl));
    return refusal === undefined ? { refused: false } : { refused: true, reason: refusal.reason };
  }

  /** The end of a sandbox announced by `announceSandboxCreated`: `destroyed_container` with its reason. */
  async announceSandboxDestroyed(sandbox: Sandbox, fl: FlSandboxMark, reason: DestroyReason): Promise<void> {
    await this.sandboxes.announceDestroyed({ client: null, container_id: sandbox.id, container_uuid: sandbox.uuid, reason, fl });
  }

  /**
   * A transport other than TCP reports each client here, so every transport is accounted the same way
   * (TCP's listener and Connection do it through their host): counted in `connectionsServed`, announced as
   * `connection_accepted`; resolves to the veto if a hook refused. Pair it with `connectionClosed`.
   */
  connectionAccepted(client: ClientInfo): Promise<{ refused: boolean; reason?: string }> {
    this.connectionsServed++;
    return this.emitEvent('connection_accepted', { client });
  }

  /** The end of a client reported by `connectionAccepted`: `client_closed` with the state it ended in. */
  async connectionClosed(client: ClientInfo, state: string): Promise<void> {
    await this.events.emit('client_closed', { client, state });
  }

  /**
   * Takes one sandbox slot for a sandbox that is not a client session (an FL client), by the uuid it
   * will be created with; undefined when full. While held, reconciliation leaves that sandbox alone.
   * Release it when the sandbox is gone.
   */
  reserveSandboxSlot(sandboxUuid: string): CapacitySlot | undefined {
    return this.capacity.tryReserve(sandboxUuid);
  }

  /** Destroys client sandboxes on an administrator's order (the `destroy` command); FL sandboxes are never selected. */
  destroySandboxes(selector: DestroySelector): Promise<AdminDestroyOutcome> {
    return this.sandboxes.adminDestroy(selector);
  }

  /** Registers (or replaces, built-ins included) the handler of a verb (`^[A-Z]+$`). */
  setRequestHandler(verb: string, handler: RequestHandler): this {
    this.dispatcher.setHandler(verb, handler);
    return this;
  }

  /** Reports requests, handshakes, refusals and sandbox creations to `observer` (metrics) in closed-set values; returns its detach. */
  observe(observer: ServerObserver): () => void {
    return this.observers.add(observer);
  }

  /** True when a verb has a handler (built-in or set with setRequestHandler). */
  hasRequestHandler(verb: string): boolean {
    return this.dispatcher.hasHandler(verb);
  }

  /** The one request chain every transport uses; never throws. */
  dispatch(request: unknown, client: ClientInfo): Promise<AnweddolResponse> {
    const work = this.dispatcher.dispatch(request, client);
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  /** Answers a body that is not a JSON object: `malformed_request`, then `Bad request`. */
  async rejectMalformed(client: ClientInfo, reason: string): Promise<AnweddolResponse> {
    this.logger.warn(`client ${client.id}: malformed request (${reason})`);
    await this.events.emit('malformed_request', { client, reason });
    const response = badRequest(reason).toResponse();
    this.dispatcher.answered({}, response, client.transport);
    return response;
  }

  /**
   * Counts an answer a transport gave without the request chain (an HTTP request refused before its body was read),
   * labelled as the chain labels its own, with the refusal it was, if any.
   */
  answeredByTransport(verb: string | undefined, response: AnweddolResponse, transport: ClientTransport, refusal?: RefusalReason): void {
    if (refusal !== undefined) this.observers.refused(refusal);
    this.dispatcher.answered({ verb }, response, transport);
  }

  /** A refusal made beside the request chain (the dashboard's CSRF rules): reported to observers as the chain's own are. */
  reportRefusal(reason: RefusalReason): void {
    this.observers.refused(reason);
  }

  /** A transport rejected a broker message without serving it: counted in the runtime statistics and reported to observers. */
  reportPoisonMessage(reason: PoisonReason): void {
    this.poisonMessages[reason]++;
    this.observers.poisonMessage(reason);
  }

  /** True when requests must carry a valid access token (`accessTokens` given). */
  get requiresAccessTokens(): boolean {
    return this.options.accessTokens !== undefined;
  }

  addTransport(transport: Transport): this {
    this.transports.push(transport);
    return this;
  }

  /** Who a peer is, with the keyed id that stands for it in logs; every transport builds its ClientInfo here. */
  clientInfo(address: string | undefined, port: number | undefined, transport: ClientTransport): ClientInfo {
    return clientInfo(address, port, transport, this.options.clientIdKey);
  }

  /** One more open connection of this client (any transport); undefined when it is at its per-client cap. Call the release when it closes. */
  admitConnection(client: ClientInfo): (() => void) | undefined {
    return this.clientLimits.tryOpenConnection(client);
  }

  /** The IP filter; every transport asks here, so a denial is counted once. */
  isAllowed(address: string): boolean {
    const allowed = this.options.ipFilter === undefined ? true : this.options.ipFilter(address);
    if (!allowed) this.observers.refused('ip_filter');
    return allowed;
  }

  tcpAddress(): { address: string; port: number; family: string } | undefined {
    return this.tcp?.address();
  }

  /** Port forwarders listening now (leak checks). */
  forwarderCount(): number {
    return this.forwarders.count();
  }

  /** Sockets still open on the TCP listener (leak checks). */
  tcpConnectionCount(): Promise<number> {
    return this.tcp?.getConnections() ?? Promise.resolve(0);
  }

  getRuntimeStatistics(): RuntimeStatistics {
    return {
      isRunning: this.state === 'running',
      runtimeErrors: this.runtimeErrors,
      uptime: this.uptimeSeconds(),
      availableContainers: this.sandboxes.available(),
      connectionsServed: this.connectionsServed,
      activeConnections: this.tcp?.activeConnections ?? 0,
      sessions: this.options.sessions.count(),
      clientLimitRefusals: this.clientLimits.refusals(),
      warmPool: this.pool?.statistics() ?? { size: 0, ready: 0, filling: 0, recycled: 0, replaced: 0 },
      poisonMessages: { ...this.poisonMessages },
    };
  }

  async start(): Promise<void> {
    if (this.state !== 'stopped') throw new Error(`cannot start: server is ${this.state}`);
    this.state = 'starting';
    const o = this.options;
    try {
      await this.sandboxes.start();
      if (o.enableTcp) {
        this.decryptor = o.rsaWorkers > 0 ? new OaepDecryptPool(o.rsaKeyPair, o.rsaWorkers, o.rsaWorkerNiceness) : { decrypt: async (c) => o.rsaKeyPair.decrypt(c), close: async () => {} };
        this.tcp = new TcpListener({
          bindAddress: o.bindAddress,
          port: o.listenPort,
          maxConnections: o.maxConnections,
          logger: this.logger,
          isAllowed: (address) => this.isAllowed(address),
          identify: (address, port) => this.clientInfo(address, port, 'tcp'),
          admit: (client) => this.admitConnection(client),
          onAccepted: () => this.connectionsServed++,
          onRefused: (reason) => this.observers.refused(reason),
          host: {
            serverPublicKeyPem: Buffer.from(o.rsaKeyPair.publicKeyPem, 'ascii'),
            serverCiphertextBytes: o.rsaKeyPair.ciphertextBytes,
            decryptor: this.decryptor,
            limits: { maxKeyLength: o.maxKeyLength, maxFrameSize: o.maxFrameSize, timeoutMs: o.timeoutSeconds * 1000 },
            logger: this.logger,
            emit: (event, payload) => this.events.emit(event, payload),
            dispatch: (raw, client) => this.dispatch(raw, client),
            malformed: (client, reason) => this.rejectMalformed(client, reason),
            undelivered: (response, client) => this.undoUndelivered(response, client),
            handshakeCompleted: (seconds) => this.observers.handshakeCompleted(seconds),
          },
        });
        const bound = await this.tcp.start();
        this.logger.info(`listening on ${bound.address}:${bound.port} (tcp)`);
      }
      for (const transport of this.transports) await transport.start();
      await this.sandboxes.enforceLifetimes();
    } catch (error) {
      // A failed start (e.g. port in use) must not touch sandboxes: they may belong to a running daemon.
      await this.release(false);
      this.state = 'stopped';
      throw error;
    }
    this.startedAt = Date.now();
    this.state = 'running';
    const tcpAddress = this.tcp?.address();
    await this.events.emit('server_started', { tcp_address: tcpAddress === undefined ? null : { address: tcpAddress.address, port: tcpAddress.port } });
  }

  /** Graceful: stop accepting, finish in-flight requests, destroy owned sandboxes (destroyOnStop), close the backend. */
  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    await this.release(this.options.destroyOnStop);
    this.startedAt = undefined;
    this.state = 'stopped';
    await this.events.emit('server_stopped', {});
  }

  private async release(destroySandboxes: boolean): Promise<void> {
    const graceMs = this.options.timeoutSeconds * 1000;
    await Promise.allSettled([this.tcp?.stop(graceMs), ...this.transports.map((t) => t.stop())]);
    await Promise.allSettled([...this.inFlight]);
    this.tcp = undefined;
    await this.decryptor?.close();
    this.decryptor = undefined;
    if (destroySandboxes) await this.sandboxes.destroyAll().catch((error) => this.runtimeError('destroy on stop', error));
    await this.sandboxes.close().catch((error) => this.runtimeError('close virtualization', error));
  }

  /**
   * Tells the server a response never reached its client. A CREATE whose credentials were lost would
   * leave an unreachable sandbox, so it is destroyed; other responses need nothing. Any transport may call it.
   */
  async undoUndelivered(response: AnweddolResponse, client: ClientInfo): Promise<void> {
    const [uuid, token] = CREATE_CREDENTIAL_KEYS.map((key) => response.data[key]);
    if (!response.success || typeof uuid !== 'string' || typeof token !== 'string') return;
    if (response.data.container_listen_port === undefined) return;
    this.logger.warn(`client ${client.id}: left before receiving its CREATE response; destroying the sandbox`);
    await this.sandboxes.destroy(uuid, token, client, 'undelivered').catch((error) => this.runtimeError('destroy undelivered sandbox', error));
  }

  private uptimeSeconds(): number {
    return this.startedAt === undefined ? 0 : Math.floor((Date.now() - this.startedAt) / 1000);
  }

  private runtimeError(source: string, error: unknown, emit = true): void {
    this.runtimeErrors++;
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.logger.error(`runtime error in ${source}: ${detail}`);
    if (emit) void this.events.emit('runtime_error', { error, source });
  }
}
