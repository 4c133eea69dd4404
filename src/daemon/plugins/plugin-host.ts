// Runs loaded plugins' register() in order against a guarded view of the server, and their cleanups in reverse at stop.
import type { AnweddolServer } from '../../server/anweddol-server.js';
import { ProtocolError } from '../../server/errors.js';
import { validateResponse } from '../../server/message-validator.js';
import type { RequestHandler } from '../../server/request-dispatcher.js';
import type { CustomEventContext, EventHandler } from '../../server/server-events.js';
import { AnweddolError, BackendUnavailableError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { AdminError, type AdminRouter } from '../admin-channel.js';
import type { PluginApi, PluginCleanup, PluginServer, SetRequestHandlerOptions } from './plugin-api.js';
import { describeError, PluginError, type LoadedPlugin } from './plugin-loader.js';

export interface PluginHostOptions {
  server: AnweddolServer;
  admin: AdminRouter;
  logger: Logger;
  /** Bound on each plugin's cleanup at stop, so one stuck plugin cannot hang the daemon's stop. Default 10 s. */
  cleanupTimeoutMs?: number;
}

/** Thrown (and so counted as a runtime error by the server) when a plugin's hook or verb handler fails. */
export class PluginFault extends AnweddolError {
  constructor(label: string, what: string, error: unknown) {
    super('PLUGIN_FAULT', `${label}: ${what}: ${describeError(error)}`, { cause: error });
  }
}

export class PluginHost {
  /** Verb → label of the plugin that set it. */
  private readonly verbOwners = new Map<string, string>();
  private readonly cleanups: Array<{ label: string; stop: () => unknown }> = [];

  constructor(private readonly options: PluginHostOptions) {}

  /** register() of each plugin in order; the first failure throws (call stop() to undo what ran). */
  async registerAll(plugins: readonly LoadedPlugin[]): Promise<void> {
    for (const plugin of plugins) {
      let result: PluginCleanup;
      try {
        result = await plugin.register(this.apiFor(plugin));
      } catch (error) {
        if (error instanceof PluginError) throw error;
        throw new PluginError([`${plugin.label}: register() threw: ${describeError(error)}`], { cause: error });
      }
      const stop = cleanupOf(result);
      if (stop === null) throw new PluginError([`${plugin.label}: register() must return nothing, a cleanup function or { stop() }`]);
      if (stop !== undefined) this.cleanups.push({ label: plugin.label, stop });
      this.options.logger.info(`${plugin.label} registered`);
    }
  }

  /** Runs cleanups in reverse registration order; a failing or stuck cleanup is logged and skipped. */
  async stop(): Promise<void> {
    const timeoutMs = this.options.cleanupTimeoutMs ?? 10_000;
    for (const { label, stop } of this.cleanups.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([Promise.resolve().then(stop), timeout]);
      } catch (error) {
        this.options.logger.error(`${label}: cleanup failed: ${describeError(error)}`);
      } finally {
        clearTimeout(timer);
      }
    }
    this.cleanups.length = 0;
  }

  private apiFor(plugin: LoadedPlugin): PluginApi {
    const { server, admin, logger } = this.options;
    const { label } = plugin;
    const tag = `[plugin ${plugin.name}] `;
    // off() must find the wrapper that on() registered for a given handler.
    const wrappers = new WeakMap<EventHandler<never>, EventHandler<CustomEventContext>>();
    const view: PluginServer = {
      on: (event: string, handler: EventHandler<never>) => {
        const wrapped: EventHandler<CustomEventContext> = async (ctx) => {
          try {
            return await (handler as EventHandler<CustomEventContext>)(ctx);
          } catch (error) {
            throw new PluginFault(label, `${event} hook`, error);
          }
        };
        wrappers.set(handler, wrapped);
        server.on(event, wrapped);
        return view;
      },
      off: (event, handler) => {
        const wrapped = wrappers.get(handler);
        if (wrapped !== undefined) server.off(event, wrapped);
        return view;
      },
      setRequestHandler: (verb, handler, options) => {
        this.claimVerb(label, verb, options);
        server.setRequestHandler(verb, guardedVerb(label, verb, handler));
        return view;
      },
      emitEvent: (event, payload, options) => server.emitEvent(event, payload, options),
      getRuntimeStatistics: () => server.getRuntimeStatistics(),
    };
    return {
      server: view,
      config: plugin.config,
      logger: {
        error: (message) => logger.error(tag + message),
        warn: (message) => logger.warn(tag + message),
        info: (message) => logger.info(tag + message),
        debug: (message) => logger.debug(tag + message),
      },
      admin: {
        register: (method, handler) => {
          try {
            admin.register(method, async (params, ctx) => {
              try {
                return await handler(params, ctx);
              } catch (error) {
                logger.error(`${label}: admin method ${method} failed: ${describeError(error)}`);
                throw error instanceof AdminError ? error : new AdminError(`${method}: ${error instanceof Error ? error.message : String(error)}`);
              }
            });
          } catch (error) {
            throw new PluginError([`${label}: cannot register admin method ${JSON.stringify(method)}: ${describeError(error)}`], { cause: error });
          }
        },
      },
    };
  }

  /** One owner per verb: a clash names both plugins; a built-in is replaced only on request. */
  private claimVerb(label: string, verb: string, options: SetRequestHandlerOptions | undefined): void {
    const owner = this.verbOwners.get(verb);
    if (owner !== undefined && owner !== label) throw new PluginError([`${label}: verb ${verb} is already set by ${owner}`]);
    if (owner === undefined && this.options.server.hasRequestHandler(verb) && options?.replaceBuiltIn !== true) {
      throw new PluginError([`${label}: verb ${verb} is built in; pass { replaceBuiltIn: true } to setRequestHandler to replace it`]);
    }
    this.verbOwners.set(verb, label);
  }
}

/** Protocol answers pass through; anything else a plugin's verb throws or returns malformed is a fault naming it. */
function guardedVerb(label: string, verb: string, handler: RequestHandler): RequestHandler {
  return async (request, ctx) => {
    let response;
    try {
      response = await handler(request, ctx);
    } catch (error) {
      if (error instanceof ProtocolError || error instanceof BackendUnavailableError) throw error;
      throw new PluginFault(label, `${verb} handler threw`, error);
    }
    const checked = validateResponse(verb, response);
    if (!checked.ok) throw new PluginFault(label, `${verb} handler answered a malformed response`, checked.reason);
    return checked.value;
  };
}

/** undefined: nothing to run; null: not an accepted return value. */
function cleanupOf(result: unknown): (() => unknown) | undefined | null {
  if (result === undefined || result === null) return undefined;
  if (typeof result === 'function') return result as () => unknown;
  if (typeof result === 'object' && typeof (result as { stop?: unknown }).stop === 'function') {
    const holder = result as { stop(): unknown };
    return () => holder.stop();
  }
  return null;
}
