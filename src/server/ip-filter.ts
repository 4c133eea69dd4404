// Allow/deny policy on client addresses ("any", single addresses, CIDR ranges; IPv4 and IPv6); the deny list wins.
import { BlockList, isIP } from 'node:net';
import { unmapAddress } from './client-info.js';

export interface IpFilterOptions {
  allowed: readonly string[];
  denied: readonly string[];
}

interface AddressSet {
  any: boolean;
  list: BlockList;
}

export class IpFilter {
  private readonly allowed: AddressSet;
  private readonly denied: AddressSet;

  constructor(options: IpFilterOptions) {
    this.allowed = IpFilter.compile(options.allowed, 'allowed');
    this.denied = IpFilter.compile(options.denied, 'denied');
  }

  isAllowed(address: string): boolean {
    // IPv4-mapped IPv6 peers (`::ffff:10.0.0.1`) are matched as IPv4.
    const normalized = unmapAddress(address.toLowerCase());
    const family = isIP(normalized);
    if (family === 0) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.denied.any || this.denied.list.check(normalized, type)) return false;
    return this.allowed.any || this.allowed.list.check(normalized, type);
  }

  private static compile(entries: readonly string[], listName: string): AddressSet {
    const set: AddressSet = { any: false, list: new BlockList() };
    for (const entry of entries) {
      if (entry === 'any') {
        set.any = true;
        continue;
      }
      const [rawAddress, rawPrefix, ...rest] = entry.split('/');
      const raw = (rawAddress ?? '').toLowerCase();
      const address = unmapAddress(raw);
      const family = isIP(address);
      // An IPv4-mapped range (::ffff:a.b.c.d/104) becomes the IPv4 range it covers (/8).
      const shift = family === 4 && isIP(raw) === 6 ? 96 : 0;
      const prefix = rawPrefix === undefined ? undefined : Number(rawPrefix) - shift;
      const maxPrefix = family === 4 ? 32 : 128;
      const badPrefix = rawPrefix !== undefined && (!/^\d{1,3}$/.test(rawPrefix) || prefix! < 0 || prefix! > maxPrefix);
      if (family === 0 || badPrefix || rest.length > 0) {
        throw new Error(`ip filter: invalid ${listName} entry ${JSON.stringify(entry)}`);
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (prefix === undefined) set.list.addAddress(address, type);
      else set.list.addSubnet(address, prefix, type);
    }
    return set;
  }
}
