import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  DEFAULT_CONFIG_PATH,
  defaultConfig,
  loadConfig,
  parseConfig,
  resolveConfigPath,
  ANWEDDOL_CONFIG_PATH,
} from '../../../src/daemon/config/config-loader.js';
import { configSchema } from '../../../src/daemon/config/config-schema.js';
import { problemsOf } from '../../helpers/config-problems.js';

const shipped = fileURLToPath(new URL('../../../anweddol.conf.yaml', import.meta.url));

describe('config loader', () => {
  it('fills every default from an empty file', () => {
    const config = parseConfig('', {}, '/etc/anweddol');
    assert.equal(config.server.listen_port, 6150);
    assert.equal(config.server.max_connections, 1024);
    assert.equal(config.server.max_frame_size, 65536);
    assert.equal(config.container.max_allowed_running_container_domains, 6);
    assert.deepEqual(config.port_forwarding.port_range, [10000, 15000]);
    assert.deepEqual(config.ip_filter.allowed_ip_list, ['any']);
    assert.equal(config.fl.listen_port, 6160);
  });

  it('ships an anweddol.conf.yaml that states exactly the defaults', () => {
    assert.deepEqual(loadConfig(shipped, {}), defaultConfig());
  });

  it('accepts a disk limit on a swarm, with a btrfs command per node', () => {
    const config = parseConfig('docker: {mode: swarm}\nswarm: {nodes: {w1: {docker: "tcp://10.0.0.2:2375", btrfs: [ssh, root@w1, btrfs]}}}', {}, '/etc/anweddol');
    assert.equal(config.container.disk_limit, 3072);
    assert.deepEqual(config.swarm.nodes.w1?.btrfs, ['ssh', 'root@w1', 'btrfs']);
  });

  it('names a swarm node btrfs command that is not a list of strings', () => {
    assert.deepEqual(problemsOf('swarm: {nodes: {w1: {docker: "unix:///d.sock", btrfs: btrfs}}}'), [
      'swarm.nodes.w1.btrfs: must be a command prefix that runs btrfs on the node (a list of strings) or null, got "btrfs"',
    ]);
  });

  it('names an unknown docker.mode', () => {
    assert.deepEqual(problemsOf('docker: {mode: k8s}'), ['docker.mode: must be engine or swarm, got "k8s"']);
  });

  it('names a swarm node without a docker endpoint', () => {
    assert.deepEqual(problemsOf('swarm: {nodes: {w1: {iptables: [iptables]}}}'), ['swarm.nodes.w1: must be a mapping {docker, iptables, btrfs}, got {"iptables":["iptables"],"btrfs":null}']);
  });

  it('resolves plugin paths against the config folder and gives each item a config', () => {
    const config = parseConfig('plugins:\n  - audit.mjs\n  - {path: /opt/hook.mjs, config: {url: "http://127.0.0.1/"}}\n', {}, '/etc/anweddol');
    assert.deepEqual(config.plugins, [
      { path: '/etc/anweddol/audit.mjs', config: {} },
      { path: '/opt/hook.mjs', config: { url: 'http://127.0.0.1/' } },
    ]);
  });

  it('names a plugin item that is neither a path nor {path, config}', () => {
    assert.deepEqual(problemsOf('plugins:\n  - {path: a.mjs, settings: {}}\n  - 3\n'), [
      'plugins[0].settings: unknown key',
      'plugins[1]: must be a module path, or a mapping {path, config}, got 3',
    ]);
  });

  it('names the key and the expectation for a wrong type', () => {
    assert.deepEqual(problemsOf('container:\n  container_memory: "1G"\n'), [
      'container.container_memory: must be an integer ≥ 64 (MiB), got "1G"',
    ]);
  });

  it('needs fl.rabbitmq.url when FL agents go through the broker', () => {
    assert.deepEqual(problemsOf('fl:\n  transport: rabbitmq\n'), ['fl.rabbitmq.url: must be an amqp:// or amqps:// URL when fl.transport is rabbitmq, got null']);
  });

  it('refuses an FL broker URL that is not amqp:// or amqps://, without echoing it (it may hold a password)', () => {
    assert.deepEqual(problemsOf('fl:\n  rabbitmq:\n    agent_url: "http://agent:s3cret@10.0.0.1:5672/"\n'), [
      'fl.rabbitmq.agent_url: must be an amqp:// or amqps:// URL, or null, got a value that is not one (not shown: it may hold a password)',
    ]);
    assert.doesNotMatch(problemsOf('fl:\n  rabbitmq:\n    url: "http://daemon:s3cret@127.0.0.1/"\n').join('\n'), /s3cret/);
  });

  it('refuses an allowed origin that is not exactly "scheme://host[:port]"', () => {
    assert.deepEqual(problemsOf('web_server:\n  allowed_origins: ["https://ok.example", "https://a.example/"]\n'), [
      'web_server.allowed_origins[1]: must be an origin "scheme://host[:port]" as browsers send it (http or https, no path), got "https://a.example/"',
    ]);
  });

  it('defaults the per-client limits', () => {
    const config = defaultConfig();
    assert.equal(config.container.max_per_client, 2);
    assert.equal(config.container.create_rate, '10/min');
    assert.equal(config.server.max_connections_per_client, 32);
    assert.equal(config.server.ipv6_client_prefix_length, 64);
  });

  it('refuses a CREATE rate that is not "N/unit", saying what it must be', () => {
    assert.deepEqual(problemsOf('container:\n  create_rate: 10 per minute\n'), [
      'container.create_rate: must be a rate "N/unit" with N ≥ 1 and unit s, min or h (e.g. "10/min"), or null (no limit), got "10 per minute"',
    ]);
    assert.equal(problemsOf('container:\n  create_rate: 0/s\n').length, 1);
    assert.equal(parseConfig('container:\n  create_rate: null\n', {}, '/').container.create_rate, null);
  });

  it('takes null for every key documented as "or null", whatever its default', () => {
    const schema = configSchema as unknown as { properties: Record<string, { properties?: Record<string, { 'x-expect'?: string }> }> };
    const nullable: string[] = [];
    for (const [section, spec] of Object.entries(schema.properties)) {
      for (const [key, property] of Object.entries(spec.properties ?? {})) {
        if (/\bor null\b/.test(property['x-expect'] ?? '')) nullable.push(`${section}.${key}`);
      }
    }
    assert.ok(nullable.includes('container.max_allowed_running_container_domains'), nullable.join(', '));
    for (const path of nullable) {
      const [section, key] = path.split('.');
      // Accepted (some keys then resolve null to a computed value, e.g. web_server.listen_port).
      assert.doesNotThrow(() => parseConfig(`${section}:\n  ${key}: null\n`, {}, '/etc/anweddol'), path);
    }
  });

  it('reports an unknown key with its full path', () => {
    assert.deepEqual(problemsOf('container:\n  foo: 1\n'), ['container.foo: unknown key']);
  });

  it('reports an unknown section', () => {
    assert.deepEqual(problemsOf('serveur:\n  listen_port: 1\n'), ['serveur: unknown key']);
  });

  it('reports a value out of range', () => {
    assert.deepEqual(problemsOf('server:\n  listen_port: 70000\n'), [
      'server.listen_port: must be a port number (1–65535), got 70000',
    ]);
  });

  it('caps sandbox disks at 3 GiB by default and takes null for no disk limit', () => {
    assert.equal(parseConfig('', {}, '/etc/anweddol').container.disk_limit, 3072);
    assert.equal(parseConfig('container:\n  disk_limit: null\n', {}, '/etc/anweddol').container.disk_limit, null);
  });

  it('names the key of a disk or ulimit too small to run a sandbox', () => {
    assert.deepEqual(problemsOf('container:\n  disk_limit: 10\n  nofile_limit: 8\n  nproc_limit: 2\n').sort(), [
      'container.disk_limit: must be an integer ≥ 64 (MiB) or null (no limit), got 10',
      'container.nofile_limit: must be an integer ≥ 64 (open files per process), got 8',
      'container.nproc_limit: must be an integer ≥ 16 (processes per user), got 2',
    ]);
  });

  it('reports every faulty key, one line each', () => {
    assert.equal(problemsOf('server:\n  timeout: 0\n  max_frame_size: 10\ncontainer:\n  pids_limit: x\n').length, 3);
  });

  it('rejects an ip filter entry that is neither any, an address nor a CIDR range', () => {
    assert.deepEqual(problemsOf('ip_filter:\n  denied_ip_list: ["10.0.0.0/8", "::1", "1.2.3.4/33"]\n'), [
      'ip_filter.denied_ip_list[2]: must be "any", an IP address or a CIDR range, got "1.2.3.4/33"',
    ]);
  });

  it('filters sandbox egress to public addresses by default', () => {
    assert.deepEqual(parseConfig('', {}, '/').network, { egress: 'internet', allow: [], deny: [] });
  });

  it('rejects an egress mode that does not exist and an allow entry that is not an IPv4 address or range', () => {
    assert.deepEqual(problemsOf('network:\n  egress: lan\n  allow: ["10.0.0.0/8", "fd00::/8"]\n'), [
      'network.egress: must be one of internet, none, open, got "lan"',
      'network.allow[1]: must be an IPv4 address or CIDR range, got "fd00::/8"',
    ]);
  });

  it('refuses egress filtering with a Docker engine on another machine, where the rules would filter nothing', () => {
    assert.match(problemsOf('docker:\n  host: tcp://10.0.0.5:2375\n')[0]!, /^network\.egress: .*set network\.egress: open/);
    assert.equal(parseConfig('docker:\n  host: tcp://10.0.0.5:2375\nnetwork:\n  egress: open\n', {}, '/').network.egress, 'open');
    assert.equal(parseConfig('docker:\n  host: tcp://127.0.0.1:2375\n', {}, '/').network.egress, 'internet');
  });

  it('defaults to one-hour sandboxes renewable up to a day, without idle timeout', () => {
    const { container } = parseConfig('', {}, '/etc/anweddol');
    assert.deepEqual([container.max_lifetime, container.max_renewed_lifetime, container.idle_timeout], [3600, 86400, null]);
  });

  it('accepts null for every lifetime key', () => {
    const { container } = parseConfig('container:\n  max_lifetime: null\n  max_renewed_lifetime: null\n  idle_timeout: null\n', {}, '/');
    assert.deepEqual([container.max_lifetime, container.max_renewed_lifetime, container.idle_timeout], [null, null, null]);
  });

  it('rejects a renewal cap shorter than the lifetime', () => {
    assert.deepEqual(problemsOf('container:\n  max_lifetime: 600\n  max_renewed_lifetime: 300\n'), [
      'container.max_renewed_lifetime: must be ≥ container.max_lifetime (600) or null, got 300',
    ]);
  });

  it('rejects a warm pool larger than the sandbox limit', () => {
    assert.deepEqual(problemsOf('container:\n  max_allowed_running_container_domains: 3\n  warm_pool_size: 4\n'), [
      'container.warm_pool_size: must be ≤ container.max_allowed_running_container_domains (3), pool sandboxes count against it; got 4',
    ]);
  });

  it('accepts a warm pool of any size without a sandbox limit', () => {
    const { container } = parseConfig('container:\n  max_allowed_running_container_domains: null\n  warm_pool_size: 50\n', {}, '/');
    assert.equal(container.warm_pool_size, 50);
  });

  it('rejects a lifetime of zero seconds', () => {
    assert.deepEqual(problemsOf('container:\n  idle_timeout: 0\n'), ['container.idle_timeout: must be an integer ≥ 1 (seconds) or null (never), got 0']);
  });

  it('rejects a port range whose first port is after its last', () => {
    assert.match(problemsOf('port_forwarding:\n  port_range: [15000, 10000]\n')[0]!, /^port_forwarding\.port_range: .*first ≤ last/);
  });

  it('reports bad YAML with its line', () => {
    const [problem] = problemsOf('server:\n  listen_port: [1,\n');
    assert.match(problem!, /invalid YAML at line \d+, column \d+/);
  });

  it('rejects a duplicated key as bad YAML', () => {
    assert.match(problemsOf('server: {}\nserver: {}\n')[0]!, /invalid YAML/);
  });

  it('names the path of a missing file in one line', () => {
    assert.throws(() => loadConfig('/nonexistent/anweddol.conf.yaml', {}), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, ['/nonexistent/anweddol.conf.yaml: cannot read configuration file (no such file)']);
      return true;
    });
  });

  it('takes docker.host from DOCKER_HOST when the file leaves it null', () => {
    assert.equal(parseConfig('', { DOCKER_HOST: 'unix:///tmp/d.sock' }, '/').docker.host, 'unix:///tmp/d.sock');
    assert.equal(parseConfig('', {}, '/').docker.host, 'unix:///var/run/docker.sock');
    assert.equal(parseConfig('docker:\n  host: tcp://127.0.0.1:2375\n', { DOCKER_HOST: 'x' }, '/').docker.host, 'tcp://127.0.0.1:2375');
  });

  it('picks 4443 as the REST port when SSL is on and no port is given', () => {
    assert.equal(parseConfig('web_server:\n  enable_ssl: true\n', {}, '/').web_server.listen_port, 4443);
    assert.equal(parseConfig('', {}, '/').web_server.listen_port, 8080);
  });

  it('resolves relative paths against the folder of the config file', () => {
    const config = parseConfig('database:\n  file_path: data/a.db\n', {}, '/srv/anweddol');
    assert.equal(config.database.file_path, '/srv/anweddol/data/a.db');
    assert.equal(config.access_token.access_token_database_file_path, '/srv/anweddol/data/a.db');
  });

  it('looks for the file in --config, then ANWEDDOL_CONFIG, then /etc/anweddol', () => {
    const none = () => false;
    assert.equal(resolveConfigPath('/a.yaml', { ANWEDDOL_CONFIG: '/b.yaml' }, none), '/a.yaml');
    assert.equal(resolveConfigPath(undefined, { ANWEDDOL_CONFIG: '/b.yaml' }, none), '/b.yaml');
    assert.equal(resolveConfigPath(undefined, {}, none), DEFAULT_CONFIG_PATH);
  });

  it("falls back to Anweddol 4.x's /etc/anweddol/config.yaml when /etc/anweddol/anweddol.conf.yaml does not exist", () => {
    assert.equal(resolveConfigPath(undefined, {}, (path) => path === ANWEDDOL_CONFIG_PATH), '/etc/anweddol/config.yaml');
  });

  it('prefers /etc/anweddol/anweddol.conf.yaml when both system files exist', () => {
    assert.equal(resolveConfigPath(undefined, {}, () => true), DEFAULT_CONFIG_PATH);
  });

  it("accepts Anweddol 4.x's libvirt and user keys, all null by default", () => {
    const keys = ['container_iso_file_path', 'nat_interface_name', 'domain_type', 'wait_max_tryout', 'endpoint_username', 'endpoint_password', 'endpoint_listen_port'];
    const defaults = parseConfig('{}', {}, '/');
    assert.deepEqual(keys.map((k) => (defaults.container as unknown as Record<string, unknown>)[k]), keys.map(() => null));
    assert.deepEqual([defaults.server.user, defaults.web_server.user], [null, null]);
    const text = 'server:\n  user: anweddol\ncontainer:\n  wait_max_tryout: -1\n  endpoint_listen_port: 22\n  domain_type: kvm\n';
    const config = parseConfig(text, {}, '/');
    assert.deepEqual([config.server.user, config.container.wait_max_tryout, config.container.endpoint_listen_port], ['anweddol', -1, 22]);
  });

  it('still checks the types of the Anweddol keys', () => {
    assert.throws(() => parseConfig('container:\n  wait_max_tryout: -2\n', {}, '/'), /container\.wait_max_tryout: must be an integer ≥ -1/);
  });

  it('reads a real file from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'anweddol-config-'));
    try {
      const file = join(dir, 'a.yaml');
      writeFileSync(file, 'server:\n  listen_port: 7000\n');
      assert.equal(loadConfig(file, {}).server.listen_port, 7000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
