// Anweddol 4.x's shipped config.yaml, reproduced with its paths in a temp folder, for the drop-in tests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, killLeftoverDaemon } from './cli-runner.js';
import { testServerKeyPair } from './test-keys.js';

/**
 * The keys Anweddol 4.x ignores here, each named once in a start warning. The 4.x shipped file sets
 * all of them (web_server.log_file_path and pid_file_path were already accepted and ignored).
 */
export const IGNORED_ANWEDDOL_KEYS = [
  'web_server.log_file_path',
  'web_server.pid_file_path',
  'web_server.user',
  'container.container_iso_file_path',
  'container.nat_interface_name',
  'container.domain_type',
  'container.wait_max_tryout',
  'container.endpoint_username',
  'container.endpoint_password',
  'container.endpoint_listen_port',
];

export interface AnweddolInstall {
  dir: string;
  configPath: string;
  listenPort: number;
  logPath: string;
  pidPath: string;
  /** Kills the daemon a failed test left running (the one the pid file names), then removes the folder. */
  remove(): void;
}

/**
 * Writes `config.yaml` as Anweddol 4.x ships it: its sections and keys (from its cerberus schema and
 * the shipped file's values), with every path in a temp folder and the listener on a free local
 * port. Added, marked "Not Anweddol's": this server's keys whose defaults are system folders or ports.
 * `user` is the user the test runs as; the default is the user Anweddol ships (`anweddol`).
 */
export async function writeAnweddolConfig(options: { user?: string } = {}): Promise<AnweddolInstall> {
  const dir = mkdtempSync(join(tmpdir(), 'anweddol-4x-'));
  const listenPort = await freePort();
  const user = options.user ?? userInfo().username;
  const text = `# Configuration file for Anweddol server (4.x layout), paths moved into ${dir}

# ---
# Contains all nessessary values for container management.
container:
  container_iso_file_path: ${dir}/iso/anweddol_container.iso
  max_allowed_running_container_domains: 6
  container_memory: 2048
  container_vcpus: 2
  nat_interface_name: virbr0
  domain_type: kvm
  wait_max_tryout: 20
  endpoint_username: endpoint
  endpoint_password: endpoint
  endpoint_listen_port: 22

# ---
# Nessessary parameters for server listen interface.
server:
  public_rsa_key_file_path: ${dir}/rsa_keys/public.pem
  private_rsa_key_file_path: ${dir}/rsa_keys/private.pem
  log_file_path: ${dir}/log/runtime.txt
  pid_file_path: ${dir}/run/server.pid
  user: ${user}
  bind_address: 127.0.0.1
  listen_port: ${listenPort}
  timeout: 10
  enable_onetime_rsa_keys: False
  # Not Anweddol's: this server's admin channel (default /run/anweddol/admin.sock).
  admin_socket_path: ${dir}/run/admin.sock

# ---
# Web server parameters.
web_server:
  log_file_path: ${dir}/log/web_runtime.txt
  pid_file_path: ${dir}/run/web_server.pid
  user: ${user}
  listen_port: ${await freePort()}
  enable_ssl: False
  ssl_pem_private_key_file_path: ${dir}/ssl/private_key.pem
  ssl_pem_certificate_file_path: ${dir}/ssl/certificate.pem

# ---
# Port forwarding parameters.
port_forwarding:
  port_range: [10000, 15000]

# ---
# Server log rotation parameters.
log_rotation:
  enabled: True
  log_archive_folder_path: ${dir}/log/archives
  max_log_lines_amount: 4000
  action: archive

# ---
# IP filtering parameters.
ip_filter:
  enabled: False
  allowed_ip_list:
    - any
  denied_ip_list: []

# ---
# Access token parameters.
access_token:
  enabled: False
  access_token_database_file_path: ${dir}/credentials/access_token.db

# --- Not Anweddol's: this server's keys whose defaults are system folders or ports.
database:
  file_path: ${dir}/db/anweddol.db
fl:
  enabled: false
metrics:
  listen_port: ${await freePort()}
`;
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, text);
  // The admin keeps Anweddol's key pair; a 2048-bit one keeps the test fast (4096 is generated elsewhere).
  await (await testServerKeyPair()).save(join(dir, 'rsa_keys/public.pem'), join(dir, 'rsa_keys/private.pem'));
  return {
    dir,
    configPath,
    listenPort,
    logPath: join(dir, 'log/runtime.txt'),
    pidPath: join(dir, 'run/server.pid'),
    remove: () => {
      killLeftoverDaemon(join(dir, 'run/server.pid'));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
