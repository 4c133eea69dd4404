// Imports and checks daemon plugins (ES modules exporting register(api)) before anything starts; one line per fault.
import { Ajv, type ErrorObject } from 'ajv';
import { statSync } from 'node:fs';
import { basename, extname, isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AnweddolError } from '../../shared/errors.js';
import { keyPath } from '../config/config-loader.js';
import type { DaemonPlugin, PluginEntry, PluginRegister } from './plugin-api.js';

/** A plugin that cannot be loaded or registered; `problems` holds one line each, naming the plugin. */
export class PluginError extends AnweddolError {
  constructor(
    readonly problems: string[],
    options?: ErrorOptions,
  ) {
    super('PLUGIN_INVALID', problems.join('\n'), options);
  }
}

export interface LoadedPlugin {
  name: string;
  /** `plugin "audit-log" (plugins[0])`: how every message names it. */
  label: string;
  /** `plugins[0]`: the key path of its item. */
  key: string;
  register: PluginRegister;
  config: Record<string, unknown>;
}

const MODULE_EXTENSIONS = new Set(['.mjs', '.js']);

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Loads every entry in order; all problems are collected, then thrown together (nothing half-loaded is returned). */
export async function loadPlugins(entries: readonly PluginEntry[]): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  const problems: string[] = [];
  for (const [index, entry] of entries.entries()) {
    try {
      loaded.push(await loadPlugin(entry, `plugins[${index}]`));
    } catch (error) {
      if (!(error instanceof PluginError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) throw new PluginError(problems);
  return loaded;
}

async function loadPlugin(entry: PluginEntry, key: string): Promise<LoadedPlugin> {
  if (typeof entry === 'object' && 'register' in entry) return checked(entry, key);
  const { path, config = {} } = typeof entry === 'string' ? { path: entry } : entry;
  const name = basename(path, extname(path));
  const fail = (cause: string, error?: unknown): never => {
    throw new PluginError([`plugin "${name}" (${key}): ${cause}`], { cause: error });
  };
  if (!isAbsolute(path)) fail(`${path}: the path must be absolute`);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch (error) {
    fail(`${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : describeError(error)}`, error);
  }
  if (!isFile) fail(`${path}: not a file`);
  if (!MODULE_EXTENSIONS.has(extname(path))) fail(`${path}: not an ES module (.mjs or .js)`);
  let exports: Record<string, unknown> = {};
  try {
    exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    fail(`${path}: ${error instanceof SyntaxError ? 'not a valid ES module' : 'failed to load'} (${describeError(error)})`, error);
  }
  const register = typeof exports.register === 'function' ? exports.register : typeof exports.default === 'function' ? exports.default : undefined;
  if (register === undefined) fail('no register export (export function register(api), or a default export being that function)');
  const configSchema = exports.configSchema;
  if (configSchema !== undefined && (typeof configSchema !== 'object' || configSchema === null)) fail('configSchema must be a JSON Schema object');
  const exportedName = typeof exports.name === 'string' && exports.name !== '' ? exports.name : name;
  return checked({ name: exportedName, register: register as PluginRegister, configSchema: configSchema as object | undefined, config }, key);
}

/** Validates the config against the plugin's schema (defaults filled in a copy) and returns the loaded plugin. */
function checked(plugin: DaemonPlugin, key: string): LoadedPlugin {
  const label = `plugin "${plugin.name}" (${key})`;
  const config = structuredClone(plugin.config ?? {});
  if (plugin.configSchema !== undefined) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
    let validate;
    try {
      validate = ajv.compile(plugin.configSchema);
    } catch (error) {
      throw new PluginError([`${label}: configSchema is not a valid JSON Schema (${describeError(error)})`], { cause: error });
    }
    if (!validate(config)) throw new PluginError(schemaFaults(validate.errors ?? [], `${key}.config`, plugin.name));
  }
  return { name: plugin.name, label, key, register: plugin.register, config };
}

function schemaFaults(errors: ErrorObject[], prefix: string, name: string): string[] {
  return errors.map((error) => {
    const extra = error.keyword === 'additionalProperties' ? `.${(error.params as { additionalProperty: string }).additionalProperty}` : '';
    const at = `${prefix}${keyPath(`/x${error.instancePath}`).slice(1)}${extra}`;
    const message = error.keyword === 'additionalProperties' ? 'unknown key' : (error.message ?? 'is invalid');
    return `${at}: ${message} (plugin "${name}")`;
  });
}
