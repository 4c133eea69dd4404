// The layout of anweddol.conf.yaml: one JSON Schema (defaults, bounds, expectations) and its typed result.
import { address, amqpUrl, bool, int, intOrNull, ipList, ipv4Cidrs, path, port, portRange, seconds, section, str, strings } from './schema-builders.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** One `plugins:` item once loaded: the module path made absolute, `config` defaulting to {}. */
export interface PluginConfigItem {
  path: string;
  config: Record<string, unknown>;
}

export interface AnweddolConfig {
  server: {
    enable_tcp: boolean;
    bind_address: string;
    listen_port: number;
    timeout: number;
    max_connections: number;
    max_connections_per_client: number | null;
    ipv6_client_prefix_length: number;
    max_frame_size: number;
    public_rsa_key_file_path: string;
    private_rsa_key_file_path: string;
    rsa_key_size: number;
    enable_onetime_rsa_keys: boolean;
    log_file_path: string;
    log_level: LogLevel;
    pid_file_path: string;
    admin_socket_path: string;
    /** Anweddol's privilege-separated user: checked against the user the daemon runs as (anweddol-compat.ts). */
    user: string | null;
  };
  web_server: {
    enabled: boolean;
    bind_address: string;
    /** Resolved by the loader: 8080 (HTTP) or 4443 (HTTPS) when left null in the file. */
    listen_port: number;
    enable_ssl: boolean;
    ssl_pem_private_key_file_path: string;
    ssl_pem_certificate_file_path: string;
    max_body_size: number;
    allowed_origins: string[];
    log_file_path: string | null;
    pid_file_path: string | null;
    /** Accepted from Anweddol configs, ignored with a warning (REST runs in this daemon). */
    user: string | null;
  };
  docker: {
    /** Resolved by the loader: $DOCKER_HOST, else unix:///var/run/docker.sock, when left null. */
    host: string;
    /** `engine`: one Docker engine; `swarm`: a swarm through its manager (`docker.host`), one service per sandbox. */
    mode: 'engine' | 'swarm';
  };
  swarm: {
    /** Placement constraints every sandbox service carries (e.g. `node.labels.sandboxes==yes`). */
    constraints: string[];
    /** Spread preferences (e.g. `node.labels.zone`). */
    spread: string[];
    /** Sandboxes per node at most; null: no limit per node. */
    max_per_node: number | null;
    /** Ports the sandboxes' SSH is published on (on their node, or on every node through the routing mesh). */
    node_port_range: [number, number];
    /** `host`: on the node that runs the sandbox, reached through the daemon's forwarders; `ingress`: the routing mesh (IPVS) on every node. */
    publish: 'host' | 'ingress';
    /** Each node's own Docker endpoint (exec, files, images, networks) and how to run iptables there; key: node hostname or id. */
    nodes: Record<string, SwarmNodeConfig>;
    /** `host:port` of the registry on the manager that serves the sandbox image to every node (`build-image` pushes there); null: none. */
    registry: string | null;
  };
  container: {
    image: string;
    max_allowed_running_container_domains: number | null;
    container_memory: number;
    container_vcpus: number;
    pids_limit: number;
    nofile_limit: number;
    nproc_limit: number;
    /** MiB of writable layer per sandbox; null: no limit. */
    disk_limit: number | null;
    /** Docker's default seccomp profile (the engine's version), from which the sandboxes' is derived; null: Docker's built-in one. */
    seccomp_profile: string | null;
    published_address: string;
    ready_timeout: number;
    client_sudo: boolean;
    destroy_on_stop: boolean;
    network_name: string | null;
    max_per_client: number | null;
    create_rate: string | null;
    max_lifetime: number | null;
    max_renewed_lifetime: number | null;
    idle_timeout: number | null;
    warm_pool_size: number;
    warm_pool_refill_concurrency: number;
    warm_pool_max_age: number | null;
  } & AnweddolVmKeys;
  port_forwarding: {
    port_range: [number, number];
    /** `auto`: the daemon forwards only ports the backend publishes on another host (swarm); `forwarder`: every sandbox's. */
    mode: 'auto' | 'forwarder';
    /** Connections one forwarder pipes at once. */
    max_connections: number;
    /** Of those, from one client address (IPv6: its /64) at most; null: no cap per source. */
    max_connections_per_source: number | null;
  };
  database: {
    file_path: string;
  };
  access_token: {
    enabled: boolean;
    /** Resolved by the loader: database.file_path when left null. */
    access_token_database_file_path: string;
  };
  ip_filter: {
    enabled: boolean;
    allowed_ip_list: string[];
    denied_ip_list: string[];
  };
  log_rotation: {
    enabled: boolean;
    action: 'archive' | 'delete';
    max_log_lines_amount: number | null;
    max_log_file_size: number | null;
    log_archive_folder_path: string;
    max_archived_files: number | null;
  };
  network: {
    egress: 'internet' | 'none' | 'open';
    allow: string[];
    deny: string[];
  };
  fl: {
    enabled: boolean;
    listen_port: number;
    /** Address agents reach the coordinator at (a swarm: one every node reaches); null: the sandbox bridge's gateway. */
    advertise_address: string | null;
    data_dir: string;
    resume_on_start: boolean;
    /** How agents reach the coordinator: its HTTP API, or a RabbitMQ broker (`fl.rabbitmq`). */
    transport: 'http' | 'rabbitmq';
    rabbitmq: {
      /** The daemon's own broker connection (declares each training's exchanges and queues). */
      url: string | null;
      /** What agents dial; null = `url` on the sandbox network's gateway, without its credentials. */
      agent_url: string | null;
      /** rabbitmqctl and its leading arguments: per-client broker users; null = agents use agent_url's credentials. */
      rabbitmqctl: string[] | null;
      /** Ceiling on any agent message in bytes, before the training's own model size check. */
      max_message_bytes: number;
    };
  };
  metrics: {
    enabled: boolean;
    /** Unauthenticated: loopback by default (a warning at start otherwise). */
    bind_address: string;
    listen_port: number;
    /** The inspector under /dashboard/ on the metrics listener (login only through `dashboard-url`). */
    dashboard_enabled: boolean;
    /** Seconds a dashboard login lasts. */
    dashboard_session_ttl: number;
  };
  /** The RabbitMQ interface (README "RabbitMQ interface"): protocol requests consumed from a broker queue. */
  rabbitmq: {
    enabled: boolean;
    /** `amqp://` or `amqps://`, credentials included (never logged). */
    url: string;
    queue: string;
    prefetch: number;
    max_message_size: number;
    /** TLS (amqps): CA bundle to verify the broker, and an optional client certificate and key. */
    ca_file_path: string | null;
    client_certificate_file_path: string | null;
    client_private_key_file_path: string | null;
  };
  plugins: PluginConfigItem[];
}

/** How the daemon reaches one swarm node (`swarm.nodes.<hostname or id>`). */
export interface SwarmNodeConfig {
  /** The node's engine: `unix:///…` or `tcp://host:port` (behind TLS or an SSH tunnel in production). */
  docker: string;
  /** Command prefix that runs iptables on the node (e.g. `[ssh, root@node, iptables]`); null: the egress rules cannot go there. */
  iptables: string[] | null;
  /** Command prefix that runs btrfs on the node (e.g. `[ssh, root@node, btrfs]`); null: no disk limit there, so no sandboxes while container.disk_limit is set. */
  btrfs: string[] | null;
}

/** RSA key sizes the server generates, in bits (server.rsa_key_size, `regen-rsa -b`). */
export const RSA_KEY_SIZES = [2048, 3072, 4096] as const;

/** Anweddol 4.x's libvirt VM settings: accepted so its config files load, ignored with one warning each. */
export interface AnweddolVmKeys {
  container_iso_file_path: string | null;
  nat_interface_name: string | null;
  domain_type: string | null;
  wait_max_tryout: number | null;
  endpoint_username: string | null;
  endpoint_password: string | null;
  endpoint_listen_port: number | null;
}

/** Where scripts/setup.sh puts Docker's default seccomp profile, fetched from Debian for the installed engine's version. */
export const DEFAULT_SECCOMP_PROFILE = '/usr/share/anweddol/docker-seccomp-default.json';

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  'x-expect': 'a mapping of sections',
  properties: {
    server: section({
      enable_tcp: bool(true),
      bind_address: address('0.0.0.0'),
      listen_port: port(6150),
      timeout: int(10, 1, 'an integer ≥ 1 (seconds)', 3600),
      max_connections: int(1024, 1, 'an integer ≥ 1 (connections)', 1_000_000),
      max_connections_per_client: intOrNull(32, 1, 'an integer ≥ 1 (connections) or null (no limit)', 1_000_000),
      ipv6_client_prefix_length: int(64, 32, 'an integer from 32 to 128 (prefix bits)', 128),
      max_frame_size: int(65536, 1024, 'an integer ≥ 1024 (bytes)', 64 * 1024 * 1024),
      public_rsa_key_file_path: path('/etc/anweddol/rsa/public.pem'),
      private_rsa_key_file_path: path('/etc/anweddol/rsa/private.pem'),
      rsa_key_size: { type: 'integer', enum: [...RSA_KEY_SIZES], default: 4096, 'x-expect': `one of ${RSA_KEY_SIZES.join(', ')} (bits)` },
      enable_onetime_rsa_keys: bool(false),
      log_file_path: path('/var/log/anweddol/server.log'),
      log_level: { type: 'string', enum: ['error', 'warn', 'info', 'debug'], default: 'info', 'x-expect': 'one of error, warn, info, debug' },
      pid_file_path: path('/run/anweddol/server.pid'),
      admin_socket_path: path('/run/anweddol/admin.sock'),
      user: str(null, 'a user name or null'),
    }),
    web_server: section({
      enabled: bool(false),
      bind_address: address('0.0.0.0'),
      listen_port: port(null, 'a port number (1–65535) or null (8080, or 4443 with SSL)'),
      enable_ssl: bool(false),
      ssl_pem_private_key_file_path: path('/etc/anweddol/ssl/private_key.pem'),
      ssl_pem_certificate_file_path: path('/etc/anweddol/ssl/certificate.pem'),
      max_body_size: int(65536, 256, 'an integer ≥ 256 (bytes)', 64 * 1024 * 1024),
      allowed_origins: {
        type: 'array',
        items: { type: 'string', format: 'web-origin', 'x-expect': 'an origin "scheme://host[:port]" as browsers send it (http or https, no path)' },
        default: [],
        'x-expect': 'a list of origins such as "https://console.example.org"',
      },
      log_file_path: path(null),
      pid_file_path: path(null),
      user: str(null, 'a user name or null'),
    }),
    docker: section({
      host: str(null, 'a Docker endpoint (unix:///path or tcp://host:port) or null ($DOCKER_HOST)'),
      mode: { type: 'string', enum: ['engine', 'swarm'], default: 'engine', 'x-expect': 'engine or swarm' },
    }),
    swarm: section({
      constraints: strings('a list of placement constraints such as "node.labels.sandboxes==yes"'),
      spread: strings('a list of spread descriptors such as "node.labels.zone"'),
      max_per_node: intOrNull(null, 1, 'an integer ≥ 1 (sandboxes) or null (no limit per node)'),
      node_port_range: portRange([30000, 32767]),
      publish: { type: 'string', enum: ['host', 'ingress'], default: 'host', 'x-expect': 'host or ingress' },
      nodes: {
        type: 'object',
        default: {},
        'x-expect': 'a mapping of node hostname or id to {docker, iptables, btrfs}',
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['docker'],
          'x-expect': 'a mapping {docker, iptables, btrfs}',
          properties: {
            // No default: a node named without its endpoint is an error, not a silent null.
            docker: { type: 'string', minLength: 1, 'x-expect': 'a Docker endpoint (unix:///path or tcp://host:port)' },
            iptables: {
              type: ['array', 'null'],
              items: { type: 'string', minLength: 1, 'x-expect': 'a non-empty string' },
              minItems: 1,
              default: null,
              'x-expect': 'a command prefix that runs iptables on the node (a list of strings) or null',
            },
            btrfs: {
              type: ['array', 'null'],
              items: { type: 'string', minLength: 1, 'x-expect': 'a non-empty string' },
              minItems: 1,
              default: null,
              'x-expect': 'a command prefix that runs btrfs on the node (a list of strings) or null',
            },
          },
        },
      },
      registry: { ...str(null, 'host:port of a registry (e.g. 10.240.0.1:5000) or null'), pattern: '^([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:]+\\])(:[0-9]{1,5})?$' },
    }),
    container: section({
      image: str('anweddol/sandbox:latest', 'an image reference (non-empty string)'),
      max_allowed_running_container_domains: intOrNull(6, 1, 'an integer ≥ 1 (sandboxes) or null (no limit)'),
      container_memory: int(1024, 64, 'an integer ≥ 64 (MiB)'),
      container_vcpus: { type: 'number', exclusiveMinimum: 0, maximum: 1024, default: 2, 'x-expect': 'a number > 0 (CPUs)' },
      pids_limit: int(256, 16, 'an integer ≥ 16 (processes)'),
      nofile_limit: int(4096, 64, 'an integer ≥ 64 (open files per process)', 1_048_576),
      nproc_limit: int(4096, 16, 'an integer ≥ 16 (processes per user)'),
      disk_limit: intOrNull(3072, 64, 'an integer ≥ 64 (MiB) or null (no limit)'),
      seccomp_profile: { ...path(DEFAULT_SECCOMP_PROFILE), type: ['string', 'null'], 'x-expect': "a file path (Docker's default seccomp profile) or null (Docker's built-in profile)" },
      published_address: address('0.0.0.0'),
      ready_timeout: int(30, 1, 'an integer ≥ 1 (seconds)', 3600),
      client_sudo: bool(false),
      destroy_on_stop: bool(true),
      network_name: str(null, 'a Docker network name or null (backend default)'),
      max_per_client: intOrNull(2, 1, 'an integer ≥ 1 (sandboxes) or null (no limit)'),
      create_rate: {
        type: ['string', 'null'],
        format: 'rate',
        default: '10/min',
        'x-expect': 'a rate "N/unit" with N ≥ 1 and unit s, min or h (e.g. "10/min"), or null (no limit)',
      },
      max_lifetime: seconds(3600, 'an integer ≥ 1 (seconds) or null (no limit)'),
      max_renewed_lifetime: seconds(86_400, 'an integer ≥ 1 (seconds) or null (renewals without limit)'),
      idle_timeout: seconds(null, 'an integer ≥ 1 (seconds) or null (never)'),
      warm_pool_size: int(2, 0, 'an integer ≥ 0 (sandboxes; 0 disables the pool)', 1000),
      warm_pool_refill_concurrency: int(2, 1, 'an integer ≥ 1 (fills at once)', 64),
      warm_pool_max_age: seconds(3600, 'an integer ≥ 1 (seconds) or null (never recycled)'),
      // Anweddol 4.x libvirt keys (see AnweddolVmKeys).
      container_iso_file_path: path(null),
      nat_interface_name: str(null),
      domain_type: str(null),
      wait_max_tryout: int(null, -1, 'an integer ≥ -1 (attempts) or null'),
      endpoint_username: str(null),
      endpoint_password: { type: ['string', 'null'], default: null, 'x-expect': 'a string or null' },
      endpoint_listen_port: port(null, 'a port number (1–65535) or null'),
    }),
    port_forwarding: section({
      port_range: portRange([10000, 15000]),
      mode: { type: 'string', enum: ['auto', 'forwarder'], default: 'auto', 'x-expect': 'auto or forwarder' },
      max_connections: int(32, 1, 'an integer ≥ 1 (connections per forwarder)', 4096),
      max_connections_per_source: intOrNull(8, 1, 'an integer ≥ 1 (connections per source address) or null (no limit)', 4096),
    }),
    database: section({
      file_path: path('/var/lib/anweddol/anweddol.db'),
    }),
    access_token: section({
      enabled: bool(false),
      access_token_database_file_path: path(null),
    }),
    ip_filter: section({
      enabled: bool(false),
      allowed_ip_list: ipList(['any']),
      denied_ip_list: ipList([]),
    }),
    log_rotation: section({
      enabled: bool(false),
      action: { type: 'string', enum: ['archive', 'delete'], default: 'archive', 'x-expect': 'archive or delete' },
      max_log_lines_amount: intOrNull(100000, 1, 'an integer ≥ 1 (lines) or null'),
      max_log_file_size: int(null, 1, 'an integer ≥ 1 (KiB) or null'),
      log_archive_folder_path: path('/var/log/anweddol/archives'),
      max_archived_files: intOrNull(30, 1, 'an integer ≥ 1 (files) or null (keep all)'),
    }),
    network: section({
      egress: { type: 'string', enum: ['internet', 'none', 'open'], default: 'internet', 'x-expect': 'one of internet, none, open' },
      allow: ipv4Cidrs(),
      deny: ipv4Cidrs(),
    }),
    fl: section({
      enabled: bool(true),
      listen_port: port(6160),
      advertise_address: { type: ['string', 'null'], format: 'ip', default: null, 'x-expect': 'an IPv4 or IPv6 address or null (the sandbox gateway)' },
      data_dir: path('/var/lib/anweddol/fl'),
      resume_on_start: bool(true),
      transport: { type: 'string', enum: ['http', 'rabbitmq'], default: 'http', 'x-expect': 'http or rabbitmq' },
      rabbitmq: section({
        url: amqpUrl(),
        agent_url: amqpUrl(),
        rabbitmqctl: {
          type: ['array', 'null'], minItems: 1, items: { type: 'string', minLength: 1 }, default: null,
          'x-expect': 'a command as a list of strings (e.g. [rabbitmqctl, -n, rabbit@host]) or null',
        },
        max_message_bytes: int(64 * 1024 * 1024, 1024, 'an integer ≥ 1024 (bytes)', 512 * 1024 * 1024),
      }),
    }),
    metrics: section({
      enabled: bool(true),
      bind_address: address('127.0.0.1'),
      listen_port: port(9150),
      dashboard_enabled: bool(true),
      dashboard_session_ttl: int(3600, 60, 'a number of seconds (60–86400)', 86_400),
    }),
    rabbitmq: section({
      enabled: bool(false),
      url: { type: 'string', format: 'amqp-url', default: 'amqp://127.0.0.1:5672/', 'x-expect': 'a broker URL amqp://[user:password@]host[:port][/vhost] (or amqps://)' },
      queue: { ...str('anweddol.requests', 'a queue name (1–255 characters)'), maxLength: 255 },
      prefetch: int(8, 1, 'an integer from 1 to 1000 (requests served at once)', 1000),
      max_message_size: int(65536, 256, 'an integer ≥ 256 (bytes)', 64 * 1024 * 1024),
      ca_file_path: path(null),
      client_certificate_file_path: path(null),
      client_private_key_file_path: path(null),
    }),
    // An item is a module path, or {path, config}; the plugin's own configSchema checks `config` at load.
    plugins: {
      type: 'array',
      default: [],
      'x-expect': 'a list of plugins (each a module path, or a mapping {path, config})',
      items: {
        type: ['string', 'object'],
        minLength: 1,
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: { type: 'string', minLength: 1, 'x-expect': 'a module path (non-empty string)' },
          config: { type: 'object', default: {}, 'x-expect': "a mapping (the plugin's configuration)" },
        },
        'x-expect': 'a module path, or a mapping {path, config}',
      },
    },
  },
} as const;
