// The one request chain both transports use: request event → validation → access token → handler → response validation.
import { BackendUnavailableError } from '../shared/errors.js';
import { ProtocolError, badAuthentication, badRequest, internalError, refusedRequest, unavailable } from './errors.js';
import type { Logger } from '../shared/logger.js';
import { validateRequest, validateResponse } from './message-validator.js';
import type { ServerEvents } from './server-events.js';
import { responseClass, type ServerObserver } from './server-observer.js';
import type { AnweddolRequest, AnweddolResponse, ClientInfo } from './types.js';

export interface RequestContext {
  client: ClientInfo;
  verb: string;
}

export type RequestHandler = (request: AnweddolRequest, ctx: RequestContext) => AnweddolResponse | Promise<AnweddolResponse>;

export interface AccessTokenVerifier {
  verify(token: string): boolean;
}

export interface DispatcherOptions {
  events: ServerEvents;
  logger: Logger;
  accessTokens?: AccessTokenVerifier;
  /** Counts and reports an unexpected failure (handler crash, bad handler response). */
  onRuntimeError(source: string, error: unknown): void;
  /** Told of each answer and of each request a policy of the chain turned away (metrics). */
  observer?: Pick<ServerObserver, 'requestAnswered' | 'refused'>;
}

export class RequestDispatcher {
  private readonly handlers = new Map<string, RequestHandler>();

  constructor(private readonly options: DispatcherOptions) {}

  setHandler(verb: string, handler: RequestHandler): void {
    if (!/^[A-Z]+$/.test(verb)) throw new TypeError(`verb must match ^[A-Z]+$: ${JSON.stringify(verb)}`);
    this.handlers.set(verb, handler);
  }

  hasHandler(verb: string): boolean {
    return this.handlers.has(verb);
  }

  /** Never throws: every outcome is a protocol response. */
  async dispatch(raw: unknown, client: ClientInfo): Promise<AnweddolResponse> {
    const response = await this.answer(raw, client);
    this.answered(raw, response, client.transport);
    return response;
  }

  /** Reports an answer to the observer; also for answers a transport gives before the chain (HTTP refusals, unreadable bodies). */
  answered(raw: unknown, response: AnweddolResponse, transport: ClientInfo['transport']): void {
    // A success is OK whatever its text (the REST welcome page is one).
    this.options.observer?.requestAnswered?.({ verb: this.verbLabel(raw), result: response.success ? 'OK' : responseClass(response.message), transport });
  }

  /** The verb as a label: one with a handler (built-in or registered by the admin), else `other` (clients choose verbs). */
  private verbLabel(raw: unknown): string {
    const verb = typeof raw === 'object' && raw !== null ? (raw as { verb?: unknown }).verb : undefined;
    return typeof verb === 'string' && this.handlers.has(verb) ? verb : 'other';
  }

  private async answer(raw: unknown, client: ClientInfo): Promise<AnweddolResponse> {
    const { events, logger } = this.options;
    let verb = '';
    let request: AnweddolRequest | undefined;
    try {
      const requested = await events.emit('request', { client, request: raw });
      if (requested.refusal !== undefined) throw refusedRequest(requested.refusal.reason);

      const validation = validateRequest(raw);
      if (!validation.ok) {
        logger.warn(`client ${client.id}: malformed request (${validation.reason})`);
        await events.emit('malformed_request', { client, reason: validation.reason });
        return badRequest(validation.reason).toResponse();
      }
      request = validation.value;
      verb = request.verb;

      const authError = this.checkAccessToken(request);
      if (authError !== undefined) {
        this.options.observer?.refused?.('access_token');
        const response = authError.toResponse();
        logger.warn(`client ${client.id}: ${response.message} for ${verb}`);
        if (authError.answer === 'Bad authentication') await events.emit('authentication_error', { client, request, response });
        return response;
      }

      const handler = this.handlers.get(verb);
      if (handler === undefined) {
        logger.info(`client ${client.id}: unhandled verb ${verb}`);
        await events.emit('unhandled_verb', { client, request });
        return badRequest('Unhandled verb').toResponse();
      }

      const response = await handler(request, { client, verb });
      const checked = validateResponse(verb, response);
      if (!checked.ok) {
        this.options.onRuntimeError(`handler ${verb}`, new TypeError(`malformed response: ${checked.reason}`));
        return internalError().toResponse();
      }
      if (!checked.value.success) logger.info(`client ${client.id}: ${verb} → ${checked.value.message}`);
      return checked.value;
    } catch (thrown) {
      // A backend outage is an expected answer, not a runtime error.
      const error = thrown instanceof BackendUnavailableError ? unavailable(thrown.reason) : thrown;
      if (error instanceof ProtocolError) {
        const response = error.toResponse();
        logger.info(`client ${client.id}: ${verb || 'request'} → ${response.message}`);
        if (error.answer === 'Bad authentication' && request !== undefined) {
          await events.emit('authentication_error', { client, request, response });
        }
        return response;
      }
      this.options.onRuntimeError(`handler ${verb || 'request'}`, error);
      return internalError().toResponse();
    }
  }

  private checkAccessToken(request: AnweddolRequest): ProtocolError | undefined {
    const verifier = this.options.accessTokens;
    if (verifier === undefined) return undefined;
    const token = request.parameters.access_token;
    if (token === undefined) return badRequest('Access token is required');
    if (typeof token !== 'string' || !verifier.verify(token)) return badAuthentication('Invalid access token');
    return undefined;
  }
}
