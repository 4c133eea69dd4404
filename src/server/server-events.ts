// Typed server events (the Anweddol hook set): handlers run in order, may be async, and may veto.
import type { Sandbox } from '../virtualization/virtualization-interface.js';
import type { AnweddolRequest, AnweddolResponse, ClientInfo } from './types.js';

export interface ServerEventPayloads {
  server_started: { tcpAddress?: { address: string; port: number } };
  server_stopped: Record<string, never>;
  connection_accepted: { client: ClientInfo };
  client_initialized: { client: ClientInfo };
  client_closed: { client: ClientInfo; state: string };
  request: { client: ClientInfo; request: unknown };
  malformed_request: { client: ClientInfo; reason: string };
  unhandled_verb: { client: ClientInfo; request: AnweddolRequest };
  authentication_error: { client: ClientInfo; request: AnweddolRequest; response: AnweddolResponse };
  runtime_error: { error: unknown; source: string };
  created_container: { client: ClientInfo; sandbox: Sandbox; containerUuid: string };
  container_created: { client: ClientInfo; sandbox: Sandbox; containerUuid: string };
  container_started: { client: ClientInfo; sandbox: Sandbox; containerUuid: string };
  container_stopped: { containerId: string; reason: string };
  destroyed_container: { client: ClientInfo; containerId: string };
}

export type ServerEventName = keyof ServerEventPayloads;

/** What a handler receives: the payload's fields plus `refuse`. */
export type EventContext<P> = P & {
  readonly event: string;
  /** Vetoes the action where the event allows it: the request is answered `Refused request (reason)`. */
  refuse(reason?: string): Refusal;
};

export interface Refusal {
  readonly refused: true;
  readonly reason: string | undefined;
}

export type EventHandler<P> = (ctx: EventContext<P>) => unknown;

export interface EmitOutcome {
  refusal: Refusal | undefined;
}

/** Fired by the event bus when a handler throws; the server counts and logs it. */
export type HandlerFailure = (event: string, error: unknown) => void;

export class ServerEvents {
  private readonly handlers = new Map<string, EventHandler<never>[]>();

  constructor(private readonly onHandlerFailure: HandlerFailure) {}

  on<E extends ServerEventName>(event: E, handler: EventHandler<ServerEventPayloads[E]>): void;
  on(event: string, handler: EventHandler<Record<string, unknown>>): void;
  on(event: string, handler: EventHandler<never>): void {
    const name = canonical(event);
    const list = this.handlers.get(name) ?? [];
    list.push(handler);
    this.handlers.set(name, list);
  }

  off(event: string, handler: EventHandler<never>): void {
    const list = this.handlers.get(canonical(event));
    if (list === undefined) return;
    const index = list.indexOf(handler);
    if (index !== -1) list.splice(index, 1);
  }

  has(event: string): boolean {
    return (this.handlers.get(canonical(event))?.length ?? 0) > 0;
  }

  /** Runs every handler; a throwing handler is reported and skipped; the first refusal wins but all handlers run. */
  async emit(event: string, payload: object): Promise<EmitOutcome> {
    const list = this.handlers.get(canonical(event));
    if (list === undefined || list.length === 0) return { refusal: undefined };
    let refusal: Refusal | undefined;
    const ctx = {
      ...payload,
      event: canonical(event),
      refuse(reason?: string): Refusal {
        const r: Refusal = { refused: true, reason };
        refusal ??= r;
        return r;
      },
    };
    for (const handler of [...list]) {
      try {
        const result = await (handler as EventHandler<typeof ctx>)(ctx);
        if (isRefusal(result)) refusal ??= result;
      } catch (error) {
        this.onHandlerFailure(event, error);
      }
    }
    return { refusal };
  }
}

function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && (value as Refusal).refused === true;
}

/** `container_created` is the alias of `created_container`. */
function canonical(event: string): string {
  return event === 'container_created' ? 'created_container' : event;
}
