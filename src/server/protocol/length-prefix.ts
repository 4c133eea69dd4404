// The 8-byte `=`-padded decimal length prefix of handshake steps 1 and 5 (e.g. `800=====`).
import { ProtocolViolation } from './protocol-violation.js';

export const LENGTH_PREFIX_BYTES = 8;

export function encodeLengthPrefix(length: number): Buffer {
  const text = String(length);
  if (!Number.isSafeInteger(length) || length <= 0 || text.length > LENGTH_PREFIX_BYTES) {
    throw new RangeError(`length ${length} does not fit a ${LENGTH_PREFIX_BYTES}-byte prefix`);
  }
  return Buffer.from(text.padEnd(LENGTH_PREFIX_BYTES, '='), 'ascii');
}

/** Digits first, then only `=` padding; 1 ≤ value ≤ max, else a ProtocolViolation. */
export function parseLengthPrefix(prefix: Buffer, max: number): number {
  if (prefix.length !== LENGTH_PREFIX_BYTES) throw new ProtocolViolation('length prefix is not 8 bytes');
  const match = /^([0-9]+)=*$/.exec(prefix.toString('latin1'));
  if (match === null) throw new ProtocolViolation('length prefix is not a padded decimal');
  const value = Number(match[1]);
  if (value <= 0) throw new ProtocolViolation('length prefix is zero');
  if (value > max) throw new ProtocolViolation(`length prefix ${value} exceeds cap ${max}`);
  return value;
}
