// Finds, parses and validates anweddol.conf.yaml into one typed AnweddolConfig (the only reader of config files).
import { Ajv, type ErrorObject } from 'ajv';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { isAmqpUrl } from '../../server/amqp/amqp-url.js';
import { isRate } from '../../server/client-limits/rate.js';
import { isWebOrigin } from '../../server/rest-request-policy.js';
import { isIpv4Cidr } from '../../virtualization/egress/egress-rules.js';
import { configSchema, type AnweddolConfig } from './config-schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/anweddol/anweddol.conf.yaml';
/** Where Anweddol 4.x installed its configuration: read when DEFAULT_CONFIG_PATH does not exist. */
export const ANWEDDOL_CONFIG_PATH = '/etc/anweddol/config.yaml';
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** A configuration that cannot be used; `problems` holds one line per fault, each naming its key path. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * `--config`, then `$ANWEDDOL_CONFIG`, then the system path, then Anweddol 4.x's path. With neither
 * system file present, the system path is returned so that the error names where to put one.
 */
export function resolveConfigPath(flag: string | undefined, env: Environment, exists: (path: string) => boolean = existsSync): string {
  const chosen = flag ?? env.ANWEDDOL_CONFIG;
  if (chosen !== undefined) return resolve(chosen);
  return [DEFAULT_CONFIG_PATH, ANWEDDOL_CONFIG_PATH].find(exists) ?? DEFAULT_CONFIG_PATH;
}

export function loadConfig(filePath: string, env: Environment): AnweddolConfig {
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? error);
    throw new ConfigError([`${filePath}: cannot read configuration file (${why})`]);
  }
  return parseConfig(text, env, dirname(filePath), filePath);
}

/** Parses YAML text; relative paths in it are resolved against `baseDir` (the config file's folder). */
export function parseConfig(text: string, env: Environment, baseDir: string, source = 'configuration'): AnweddolConfig {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((e) => {
        const at = e.linePos?.[0];
        const where = at ? ` at line ${at.line}, column ${at.col}` : '';
        return `${source}: invalid YAML${where}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
      }),
    );
  }
  const raw: unknown = document.toJS() ?? {};
  if (!validate(raw)) throw new ConfigError(describeErrors(validate.errors ?? []));
  const config = raw as AnweddolConfig;
  const problems = checkRelations(config);
  if (problems.length > 0) throw new ConfigError(problems);
  const resolved = resolveDerived(config, env, baseDir);
  const late = checkResolved(resolved);
  if (late.length > 0) throw new ConfigError(late);
  return resolved;
}

/** The defaults alone (what an empty file gives), for docs and tests. */
export function defaultConfig(env: Environment = {}): AnweddolConfig {
  return parseConfig('{}', env, '/');
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, allowUnionTypes: true, strict: true });
ajv.addKeyword({ keyword: 'x-expect', schemaType: 'string' });
ajv.addFormat('ip', (value: string) => isIP(value) !== 0);
ajv.addFormat('ip-or-cidr', (value: string) => value === 'any' || isIpOrCidr(value));
ajv.addFormat('web-origin', isWebOrigin);
ajv.addFormat('rate', isRate);
ajv.addFormat('ipv4-cidr', isIpv4Cidr);
ajv.addFormat('amqp-url', isAmqpUrl);
const validate = ajv.compile(configSchema);

function isIpOrCidr(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash === -1) return isIP(value) !== 0;
  const family = isIP(value.slice(0, slash));
  const prefix = value.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** `/plugins/1/config/url` → `plugins[1].config.url`. */
export function keyPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

/** Keys whose value is never shown in an error. */
const SECRET_KEYS: ReadonlySet<string> = new Set(['rabbitmq.url', 'fl.rabbitmq.url', 'fl.rabbitmq.agent_url']);

function shown(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function describeErrors(errors: ErrorObject[]): string[] {
  const lines = new Map<string, string>();
  for (const error of errors) {
    if (error.keyword === 'additionalProperties') {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      const at = keyPath(error.instancePath);
      const full = at ? `${at}.${key}` : key;
      lines.set(full, `${full}: unknown key`);
      continue;
    }
    const at = keyPath(error.instancePath) || '(top level)';
    if (lines.has(at)) continue; // one line per key, even when several keywords fail
    const expect = (error.parentSchema as { 'x-expect'?: string } | undefined)?.['x-expect'];
    // A broker URL may carry a password: its value is never echoed.
    const got = SECRET_KEYS.has(at) ? 'a value that is not one (not shown: it may hold a password)' : shown(error.data);
    lines.set(at, `${at}: must be ${expect ?? error.message ?? 'valid'}, got ${got}`);
  }
  return [...lines.values()];
}

function checkRelations(config: AnweddolConfig): string[] {
  const problems: string[] = [];
  const [first, last] = config.port_forwarding.port_range;
  if (first > last) {
    problems.push(`port_forwarding.port_range: must be a pair [first, last] of port numbers, first ≤ last, got ${shown([first, last])}`);
  }
  const [nodeFirst, nodeLast] = config.swarm.node_port_range;
  if (nodeFirst > nodeLast) {
    problems.push(`swarm.node_port_range: must be a pair [first, last] of port numbers, first ≤ last, got ${shown([nodeFirst, nodeLast])}`);
  }
  const { max_lifetime: lifetime, max_renewed_lifetime: renewed } = config.container;
  if (lifetime !== null && renewed !== null && renewed < lifetime) {
    problems.push(`container.max_renewed_lifetime: must be ≥ container.max_lifetime (${lifetime}) or null, got ${renewed}`);
  }
  const { warm_pool_size: pool, max_allowed_running_container_domains: max } = config.container;
  if (max !== null && pool > max) {
    problems.push(`container.warm_pool_size: must be ≤ container.max_allowed_running_container_domains (${max}), pool sandboxes count against it; got ${pool}`);
  }
  if (config.fl.enabled && config.fl.transport === 'rabbitmq' && config.fl.rabbitmq.url === null) {
    problems.push('fl.rabbitmq.url: must be an amqp:// or amqps:// URL when fl.transport is rabbitmq, got null');
  }
  const broker = config.rabbitmq;
  const tlsKeys = (['ca_file_path', 'client_certificate_file_path', 'client_private_key_file_path'] as const).filter((key) => broker[key] !== null);
  if (tlsKeys.length > 0 && !broker.url.startsWith('amqps://')) {
    problems.push(`rabbitmq.${tlsKeys[0]}: TLS files need an amqps:// rabbitmq.url`);
  }
  if ((broker.client_certificate_file_path === null) !== (broker.client_private_key_file_path === null)) {
    problems.push('rabbitmq.client_certificate_file_path: must be given together with rabbitmq.client_private_key_file_path');
  }
  return problems;
}

/** Relations that involve a derived value (e.g. docker.host from $DOCKER_HOST). */
function checkResolved(config: AnweddolConfig): string[] {
  const problems: string[] = [];
  // The egress rules go into this machine's iptables: with an engine elsewhere they would filter nothing.
  const tcp = /^(?:tcp|http):\/\/\[?([^\]/]+?)\]?(?::\d+)?\/?$/.exec(config.docker.host);
  // On a swarm the rules go to each node through swarm.nodes.<node>.iptables instead.
  if (config.docker.mode === 'engine' && config.network.egress !== 'open' && tcp !== null && !['localhost', '127.0.0.1', '::1'].includes(tcp[1]!)) {
    problems.push(`network.egress: the egress rules are installed on this machine, but docker.host ${config.docker.host} is another one; filter on the engine's host and set network.egress: open`);
  }
  return problems;
}

const PATH_KEYS: ReadonlyArray<readonly [keyof AnweddolConfig, string]> = [
  ['server', 'public_rsa_key_file_path'],
  ['server', 'private_rsa_key_file_path'],
  ['server', 'log_file_path'],
  ['server', 'pid_file_path'],
  ['server', 'admin_socket_path'],
  ['web_server', 'ssl_pem_private_key_file_path'],
  ['web_server', 'ssl_pem_certificate_file_path'],
  ['web_server', 'log_file_path'],
  ['web_server', 'pid_file_path'],
  ['container', 'seccomp_profile'],
  ['database', 'file_path'],
  ['access_token', 'access_token_database_file_path'],
  ['log_rotation', 'log_archive_folder_path'],
  ['rabbitmq', 'ca_file_path'],
  ['rabbitmq', 'client_certificate_file_path'],
  ['rabbitmq', 'client_private_key_file_path'],
  ['fl', 'data_dir'],
];

function resolveDerived(config: AnweddolConfig, env: Environment, baseDir: string): AnweddolConfig {
  for (const [sectionName, key] of PATH_KEYS) {
    const sectionValues = config[sectionName] as unknown as Record<string, unknown>;
    const value = sectionValues[key];
    if (typeof value === 'string' && !isAbsolute(value)) sectionValues[key] = resolve(baseDir, value);
  }
  const web = config.web_server as { listen_port: number | null };
  web.listen_port ??= config.web_server.enable_ssl ? 4443 : 8080;
  const docker = config.docker as { host: string | null };
  docker.host ??= env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
  const tokens = config.access_token as { access_token_database_file_path: string | null };
  tokens.access_token_database_file_path ??= config.database.file_path;
  const plugins = config.plugins as Array<string | { path: string; config?: Record<string, unknown> }>;
  config.plugins = plugins.map((item) => (typeof item === 'string' ? { path: resolve(baseDir, item), config: {} } : { path: resolve(baseDir, item.path), config: item.config ?? {} }));
  return config;
}
