// What a daemon plugin sees: the `api` handed to its register(), and the shapes it may export and return.
import type { RuntimeStatistics } from '../../server/anweddol-server.js';
import type { RequestHandler } from '../../server/request-dispatcher.js';
import type { ANWEDDOL_CALLBACKS, AnweddolCallbackName, CustomEventContext, EventContext, EventHandler, ServerEventName } from '../../server/server-events.js';
import type { Logger } from '../../shared/logger.js';
import type { AdminHandler } from '../admin-channel.js';

export interface SetRequestHandlerOptions {
  /** Required to replace a built-in verb (CREATE, DESTROY, STAT): replacing one is never an accident. */
  replaceBuiltIn?: boolean;
}

/** The part of AnweddolServer a plugin may use (the library API of the README). */
export interface PluginServer {
  on<E extends ServerEventName>(event: E, handler: EventHandler<EventContext<E>>): PluginServer;
  on<A extends AnweddolCallbackName>(event: A, handler: EventHandler<EventContext<(typeof ANWEDDOL_CALLBACKS)[A]>>): PluginServer;
  on(event: string, handler: EventHandler<CustomEventContext>): PluginServer;
  off(event: string, handler: EventHandler<never>): PluginServer;
  setRequestHandler(verb: string, handler: RequestHandler, options?: SetRequestHandlerOptions): PluginServer;
  emitEvent(event: string, payload?: object, options?: { vetoable?: boolean }): Promise<{ refused: boolean; reason?: string }>;
  getRuntimeStatistics(): RuntimeStatistics;
}

export interface PluginApi {
  server: PluginServer;
  /** The item's `config` (after the plugin's configSchema filled its defaults), or {}. */
  config: Record<string, unknown>;
  /** Lines are tagged `[plugin NAME]`. */
  logger: Logger;
  admin: {
    /** Adds an admin-channel method, called with `anweddol-server call METHOD --params JSON`. */
    register(method: string, handler: AdminHandler): void;
  };
}

/** What register() may return: nothing, a cleanup function, or an object with stop(); run at graceful stop. */
export type PluginCleanup = (() => unknown) | { stop(): unknown } | undefined | void;

export type PluginRegister = (api: PluginApi) => PluginCleanup | Promise<PluginCleanup>;

/** A plugin given as code to startDaemon() rather than as a module path. */
export interface DaemonPlugin {
  name: string;
  register: PluginRegister;
  /** JSON Schema for `config`, checked with ajv before register() runs. */
  configSchema?: object;
  config?: Record<string, unknown>;
}

/** An item of startDaemon's `plugins`: a module path, a path with its config, or a plugin object. */
export type PluginEntry = string | { path: string; config?: Record<string, unknown> } | DaemonPlugin;
