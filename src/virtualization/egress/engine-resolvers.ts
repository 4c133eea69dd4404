// The upstream name servers dockerd gives sandboxes, worked out from the host's resolv.conf the way dockerd does it.
import { readFileSync } from 'node:fs';

export const ETC_RESOLV_CONF = '/etc/resolv.conf';
/** What dockerd reads instead when /etc/resolv.conf only points at systemd-resolved's stub. */
export const SYSTEMD_RESOLV_CONF = '/run/systemd/resolve/resolv.conf';
const SYSTEMD_STUB = '127.0.0.53';
/** dockerd's fallback when no usable name server is left. */
export const DOCKER_DEFAULT_RESOLVERS = ['8.8.8.8', '8.8.4.4'];

/** `nameserver` lines of a resolv.conf, in order. */
export function parseNameservers(text: string): string[] {
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    if (match) servers.push(match[1]!.replace(/%.*$/, ''));
  }
  return servers;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/**
 * Name servers the engine's embedded DNS forwards to (from inside each sandbox's network namespace, so through FORWARD):
 * the stub is replaced by systemd-resolved's real list, loopback servers are dropped, and an empty result means Google's.
 */
export function engineResolvers(etcResolvConf: string, systemdResolvConf: () => string | undefined): string[] {
  let servers = parseNameservers(etcResolvConf);
  if (servers.length > 0 && servers.every((s) => s === SYSTEMD_STUB)) servers = parseNameservers(systemdResolvConf() ?? '');
  const usable = servers.filter((s) => !isLoopback(s));
  return usable.length > 0 ? usable : [...DOCKER_DEFAULT_RESOLVERS];
}

/** The same, from this host's files. */
export function hostEngineResolvers(): string[] {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  };
  return engineResolvers(read(ETC_RESOLV_CONF) ?? '', () => read(SYSTEMD_RESOLV_CONF));
}
