// Who counts as one client for the per-client limits: an IPv4 address, or the IPv6 prefix its address falls in.
import { isIP } from 'node:net';

/**
 * The key of a client address: IPv4 (IPv4-mapped included) as is; IPv6 masked to `ipv6PrefixLength` bits,
 * written in full hex with the prefix (`2001:0db8:0000:0001:0000:0000:0000:0000/64`). A network hands a
 * whole /64 to one host, so counting /128s would let one machine take 2^64 keys.
 */
export function clientKeyOf(address: string, ipv6PrefixLength: number): string {
  const bare = address.split('%', 1)[0]!.toLowerCase();
  const unmapped = bare.startsWith('::ffff:') && isIP(bare.slice(7)) === 4 ? bare.slice(7) : bare;
  const family = isIP(unmapped);
  if (family === 4) return unmapped;
  if (family !== 6) return `unknown:${unmapped}`;
  const groups = ipv6Groups(unmapped);
  const masked = groups.map((group, i) => {
    const keep = Math.min(16, Math.max(0, ipv6PrefixLength - i * 16));
    return keep === 0 ? 0 : group & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${masked.map((g) => g.toString(16).padStart(4, '0')).join(':')}/${ipv6PrefixLength}`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` and an IPv4 tail allowed). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (isIP(tail) === 4) {
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  if (rest === undefined) return left;
  const right = parse(rest);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
