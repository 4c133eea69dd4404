// Builds the ClientInfo of a peer: unmapped address and the 7-hex id that is the only identity logged.
import { sha256Hex } from '../crypto/hash.js';
import type { ClientInfo, Transport } from './types.js';

export function unmapAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function clientInfo(address: string | undefined, port: number | undefined, transport: Transport): ClientInfo {
  const unmapped = unmapAddress(address ?? 'unknown');
  return { address: unmapped, port: port ?? 0, transport, id: sha256Hex(unmapped).slice(0, 7) };
}
