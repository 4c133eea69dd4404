// What an Anweddol 4.x configuration means here: keys accepted but ignored (one warning each), and the `server.user` rule.
import type { AnweddolConfig } from './config/config-schema.js';

/** Why each accepted-but-ignored key has no effect, by key path (the value itself is never printed: some are secrets). */
const IGNORED_KEYS: ReadonlyArray<readonly [section: 'container' | 'web_server', key: string, why: string]> = [
  ['web_server', 'log_file_path', 'REST runs in this daemon and logs to server.log_file_path'],
  ['web_server', 'pid_file_path', 'REST runs in this daemon, whose pid is in server.pid_file_path'],
  ['web_server', 'user', 'REST runs in this daemon, as the user the daemon runs as (see server.user)'],
  ['container', 'container_iso_file_path', 'sandboxes are Docker containers of container.image (`anweddol-server build-image`), not VMs booted from an ISO'],
  ['container', 'nat_interface_name', 'sandboxes sit on a Docker bridge network (container.network_name), not a libvirt NAT interface'],
  ['container', 'domain_type', 'there is no libvirt domain: sandboxes are Docker containers'],
  [
    'container',
    'wait_max_tryout',
    'it counted 1-second polls for a VM to get an IP address (-1: forever); a sandbox here is ready when its sshd answers, within container.ready_timeout seconds',
  ],
  ['container', 'endpoint_username', 'sandboxes are set up through `docker exec`, not over SSH as an endpoint user'],
  ['container', 'endpoint_password', 'sandboxes are set up through `docker exec`, not over SSH as an endpoint user'],
  ['container', 'endpoint_listen_port', "the sandbox's sshd listens on 22 inside the container, published on a port of port_forwarding.port_range"],
];

/** One line per key set in the file that has no effect here: `<key> is ignored: <why>`. */
export function ignoredKeyWarnings(config: AnweddolConfig): string[] {
  return IGNORED_KEYS.filter(([section, key]) => (config[section] as Record<string, unknown>)[key] !== null).map(
    ([section, key, why]) => `${section}.${key} is ignored: ${why}`,
  );
}

export interface ProcessIdentity {
  uid: number;
  username: string;
}

export type RunAsUserVerdict = { ok: true; warning?: string } | { ok: false; refusal: string };

/**
 * `server.user` against the user the daemon was started as. Anweddol switched to it after doing its
 * root work; this daemon does not switch: for its whole life it needs the Docker socket and (for the
 * sandbox egress rules) CAP_NET_ADMIN, which a setuid from root drops. So root with another user
 * named is refused with the fix, and a non-root start as another user runs as itself, saying so.
 */
export function checkRunAsUser(user: string | null, identity: ProcessIdentity): RunAsUserVerdict {
  if (user === null || user === identity.username) return { ok: true };
  if (identity.uid === 0) {
    return {
      ok: false,
      refusal:
        `server.user: started as root but server.user is "${user}", and this server does not switch users after start ` +
        `(it needs the Docker socket and CAP_NET_ADMIN for its whole life); start it as "${user}" ` +
        `(systemd: User=${user}, see resources/anweddol-server.service) or remove server.user to run as root`,
    };
  }
  return {
    ok: true,
    warning: `server.user "${user}" is not applied: started as "${identity.username}" (uid ${identity.uid}), not root, so the server runs as "${identity.username}"`,
  };
}
