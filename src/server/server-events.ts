// Typed server events (Anweddol's callback set, docs/events.md): handlers run in order, may be async; only vetoable events can refuse.
import { AnweddolError } from '../shared/errors.js';
import type { AnweddolRequest, AnweddolResponse, ClientInfo } from './types.js';

/**
 * Why a sandbox ended: the `reason` of every `destroyed_container`. A closed list so that listeners can
 * switch on it.
 */
export type DestroyReason =
  /** A client's DESTROY. */
  | 'destroy_request'
  /** Its CREATE response never reached the client. */
  | 'undelivered'
  /** A `container_started` or `created_container` handler refused it. */
  | 'vetoed'
  /** The backend reports it ended behind our back. */
  | 'stopped'
  | 'died'
  | 'oom'
  | 'removed'
  /** The swarm node that ran it went down or was drained. */
  | 'node_lost'
  /** Reconciliation found it orphaned, or found its session's container gone. */
  | 'reconciled'
  /** The server stopped (`destroyOnStop`). */
  | 'server_stopped'
  /** The FL training that held it ended. */
  | 'training_ended'
  /** Sandbox lifetimes: `container.max_lifetime` reached, or `container.idle_timeout` without an SSH session. */
  | 'expired'
  | 'idle'
  /** An administrator's `anweddol-server destroy`. */
  | 'admin';

/** Marks a sandbox an FL training holds (`fl` in sandbox events; null for a client's sandbox). */
export interface FlSandboxMark {
  training_uuid: string;
  /** The training's client id (`client-1` …), not a network client. */
  client_id: string;
  /** The sandbox's deadline, the training's (Unix seconds, as CREATE's `expires_at`); null without one. */
  expires_at: number | null;
}

/** What `container_started` and `created_container` carry about a new sandbox. */
export interface CreatedSandboxPayload {
  /** The network client whose CREATE made it; null for an FL sandbox. */
  client: ClientInfo | null;
  container_id: string;
  container_uuid: string;
  container_listen_port: number;
  container_iso_sha256: string;
  container_ip_address: string | null;
  fl: FlSandboxMark | null;
}

export interface DestroyedSandboxPayload {
  /** The client whose request ended it (DESTROY, undelivered, vetoed CREATE); null otherwise. */
  client: ClientInfo | null;
  container_id: string;
  /** Null when only the backend id is known (a sandbox found by reconciliation, or ended behind our back). */
  container_uuid: string | null;
  reason: DestroyReason;
  fl: FlSandboxMark | null;
}

/**
 * What `forwarder_created`, `forwarder_started` and `forwarder_stopped` carry (Anweddol 5's `forwarder_instance`, flattened):
 * the port clients are told, and the sandbox endpoint it is piped to.
 */
export interface ForwarderPayload {
  /** The network client whose CREATE made the sandbox; null when none did (a restarted daemon, server stop). */
  client: ClientInfo | null;
  container_id: string;
  /** Null when only the backend id is known (as on `destroyed_container`). */
  container_uuid: string | null;
  server_origin_port: number;
  container_ip: string;
  container_destination_port: number;
}

export interface ServerEventPayloads {
  server_started: { tcp_address: { address: string; port: number } | null };
  server_stopped: Record<string, never>;
  connection_accepted: { client: ClientInfo };
  client_initialized: { client: ClientInfo };
  client_closed: { client: ClientInfo; state: string };
  request: { client: ClientInfo; request: unknown };
  malformed_request: { client: ClientInfo; reason: string };
  unhandled_verb: { client: ClientInfo; request: AnweddolRequest };
  authentication_error: { client: ClientInfo; request: AnweddolRequest; response: AnweddolResponse };
  runtime_error: { error: unknown; source: string };
  container_started: CreatedSandboxPayload;
  created_container: CreatedSandboxPayload;
  destroyed_container: DestroyedSandboxPayload;
  forwarder_created: ForwarderPayload;
  forwarder_started: ForwarderPayload;
  forwarder_stopped: ForwarderPayload & { reason: DestroyReason };
}

export type ServerEventName = keyof ServerEventPayloads;

/** The events whose handlers get `ctx.refuse`: each one's action is refused when a handler vetoes. */
export type VetoableEventName = 'connection_accepted' | 'client_initialized' | 'request' | 'container_started' | 'created_container' | 'forwarder_created' | 'forwarder_started';

const VETOABLE: ReadonlySet<string> = new Set<VetoableEventName>([
  'connection_accepted',
  'client_initialized',
  'request',
  'container_started',
  'created_container',
  'forwarder_created',
  'forwarder_started',
]);
const BUILT_IN: ReadonlySet<string> = new Set<ServerEventName>([
  'server_started',
  'server_stopped',
  'connection_accepted',
  'client_initialized',
  'client_closed',
  'request',
  'malformed_request',
  'unhandled_verb',
  'authentication_error',
  'runtime_error',
  'container_started',
  'created_container',
  'destroyed_container',
  'forwarder_created',
  'forwarder_started',
  'forwarder_stopped',
]);

/** Anweddol 4.x's callback names and the event each one is here; `server.on` accepts either spelling. */
export const ANWEDDOL_CALLBACKS = {
  on_connection: 'connection_accepted',
  on_client: 'client_initialized',
  on_client_closed: 'client_closed',
  on_request: 'request',
  on_malformed_request: 'malformed_request',
  on_unknown_verb: 'unhandled_verb',
  on_created_container: 'created_container',
  on_created_endpoint_shell: 'container_started',
  on_destroyed_container: 'destroyed_container',
  on_runtime_error: 'runtime_error',
  on_started: 'server_started',
  on_stopped: 'server_stopped',
} as const satisfies Record<string, ServerEventName>;

export type AnweddolCallbackName = keyof typeof ANWEDDOL_CALLBACKS;

/** Other spellings of our events: Anweddol 5's `container_created` (and any `on_<event>`, see `canonicalEventName`). */
const ALIASES: Readonly<Record<string, ServerEventName>> = { container_created: 'created_container' };

export interface Refusal {
  readonly refused: true;
  readonly reason: string | undefined;
}

export interface Vetoing {
  /** Vetoes the event's action: the request is answered `Refused request (reason)` (see docs/events.md). */
  refuse(reason?: string): Refusal;
}

/** What a handler of a built-in event receives: the payload's fields, the event name, and `refuse` where the event can veto. */
export type EventContext<E extends ServerEventName> = ServerEventPayloads[E] & { readonly event: E } & (E extends VetoableEventName ? Vetoing : unknown);

/** What a handler of a custom event (`emitEvent`) receives; `refuse` is there only when it was emitted as vetoable. */
export type CustomEventContext = Record<string, unknown> & { readonly event: string } & Partial<Vetoing>;

export type EventHandler<C> = (ctx: C) => unknown;

export interface EmitOutcome {
  refusal: Refusal | undefined;
}

/** A veto that cannot take effect: on an event that cannot veto, or after the event was decided. Counted as a runtime error. */
export class IgnoredVetoError extends AnweddolError {
  constructor(message: string, options?: ErrorOptions) {
    super('IGNORED_VETO', message, options);
  }
}

/** Fired by the event bus when a handler throws or vetoes where it cannot; the server counts and logs it. */
export type HandlerFailure = (event: string, error: unknown) => void;

/** Our name of an event given any accepted spelling: Anweddol 4.x callback names, aliases, `on_<event>`. */
export function canonicalEventName(event: string): string {
  if (Object.hasOwn(ANWEDDOL_CALLBACKS, event)) return ANWEDDOL_CALLBACKS[event as AnweddolCallbackName];
  const bare = event.startsWith('on_') ? event.slice(3) : event;
  return Object.hasOwn(ALIASES, bare) ? ALIASES[bare]! : bare;
}

export function isVetoableEvent(event: string): boolean {
  return VETOABLE.has(canonicalEventName(event));
}

export class ServerEvents {
  private readonly handlers = new Map<string, EventHandler<never>[]>();

  constructor(
    private readonly onHandlerFailure: HandlerFailure,
    /** Told of every veto that took effect (the server counts refusals). */
    private readonly onRefusal: (event: string) => void = () => {},
  ) {}

  on<E extends ServerEventName>(event: E, handler: EventHandler<EventContext<E>>): void;
  on<A extends AnweddolCallbackName>(event: A, handler: EventHandler<EventContext<(typeof ANWEDDOL_CALLBACKS)[A]>>): void;
  on(event: string, handler: EventHandler<CustomEventContext>): void;
  on(event: string, handler: EventHandler<never>): void {
    const name = canonicalEventName(event);
    const list = this.handlers.get(name) ?? [];
    list.push(handler);
    this.handlers.set(name, list);
  }

  off(event: string, handler: EventHandler<never>): void {
    const list = this.handlers.get(canonicalEventName(event));
    if (list === undefined) return;
    const index = list.indexOf(handler);
    if (index !== -1) list.splice(index, 1);
  }

  has(event: string): boolean {
    return (this.handlers.get(canonicalEventName(event))?.length ?? 0) > 0;
  }

  /**
   * Runs every handler; a throwing handler is reported and skipped; on a vetoable event the first refusal
   * wins but all handlers run. Built-in events are vetoable per `VetoableEventName`; a custom event only
   * when `customVetoable` says so.
   */
  async emit<E extends ServerEventName>(event: E, payload: ServerEventPayloads[E]): Promise<EmitOutcome>;
  async emit(event: string, payload: object, customVetoable?: boolean): Promise<EmitOutcome>;
  async emit(event: string, payload: object, customVetoable = false): Promise<EmitOutcome> {
    const name = canonicalEventName(event);
    const list = this.handlers.get(name);
    if (list === undefined || list.length === 0) return { refusal: undefined };
    const vetoable = BUILT_IN.has(name) ? VETOABLE.has(name) : customVetoable;
    let refusal: Refusal | undefined;
    let decided = false;
    const ctx: Record<string, unknown> = { ...payload, event: name };
    if (vetoable) {
      ctx.refuse = (reason?: string): Refusal => {
        const r: Refusal = { refused: true, reason };
        // A handler that kept the context and refuses later would be ignored: say so instead.
        if (decided) this.onHandlerFailure(name, new IgnoredVetoError(`${name} was already decided: a late refuse() has no effect`));
        else refusal ??= r;
        return r;
      };
    }
    for (const handler of [...list]) {
      try {
        const result = await (handler as EventHandler<typeof ctx>)(ctx);
        if (isRefusal(result)) {
          if (vetoable) refusal ??= result;
          else this.onHandlerFailure(name, new IgnoredVetoError(`${name} cannot be vetoed: the refusal has no effect`));
        }
      } catch (error) {
        // `ctx.refuse` does not exist here: name the real fault rather than "is not a function".
        const ignoredVeto = !vetoable && error instanceof TypeError && /\brefuse\b/.test(error.message);
        this.onHandlerFailure(name, ignoredVeto ? new IgnoredVetoError(`${name} cannot be vetoed: ctx.refuse does not exist`, { cause: error }) : error);
      }
    }
    decided = true;
    if (refusal !== undefined) this.onRefusal(name);
    return { refusal };
  }
}

function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && (value as Refusal).refused === true;
}
