// Builds the ClientInfo of a peer: unmapped address and the keyed id that is the only client identity logged.
import { hmacSha256Hex } from '../crypto/hash.js';
import type { ClientInfo, Transport } from './types.js';

/** Hex characters of a client id: 48 bits, short in a log line, and without the key no way back to the address. */
export const CLIENT_ID_HEX_LENGTH = 12;

/** Shortest accepted client-id key, in bytes. */
export const MIN_CLIENT_ID_KEY_BYTES = 16;

export function unmapAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The id logs use for an address: HMAC-SHA256 under a per-install key. A plain hash of an IPv4 address
 * is reversed by hashing all 2^32 of them; without the key nothing links an id to an address.
 */
export function clientId(address: string, key: Buffer): string {
  return hmacSha256Hex(key, address).slice(0, CLIENT_ID_HEX_LENGTH);
}

export function clientInfo(address: string | undefined, port: number | undefined, transport: Transport, key: Buffer): ClientInfo {
  const unmapped = unmapAddress(address ?? 'unknown');
  return { address: unmapped, port: port ?? 0, transport, id: clientId(unmapped, key) };
}
