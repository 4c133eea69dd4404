// Encrypted message framing of docs/protocol.md §1.3: a 16-byte encrypted length header, then payload || next IV.
import { randomBytes } from 'node:crypto';
import { AES_IV_BYTES, type SessionCipher } from '../../crypto/session-cipher.js';
import { ProtocolViolation } from './protocol-violation.js';

export const FRAME_HEADER_BYTES = 16;
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024;

export interface SealedFrame {
  header: Buffer;
  payload: Buffer;
}

/** Encrypts `body` under the current IV, appends a fresh IV and moves the cipher to it. */
export function sealFrame(cipher: SessionCipher, body: Buffer, nextIv: Buffer = randomBytes(AES_IV_BYTES)): SealedFrame {
  const encrypted = cipher.encrypt(body);
  const header = cipher.encrypt(Buffer.from(String(encrypted.length + AES_IV_BYTES), 'ascii'));
  cipher.rotate(nextIv);
  return { header, payload: Buffer.concat([encrypted, nextIv]) };
}

/** Decrypts a frame header to the payload length N (17 ≤ N ≤ maxFrameSize, a whole number of AES blocks plus the IV). */
export function parseFrameHeader(cipher: SessionCipher, header: Buffer, maxFrameSize: number): number {
  if (header.length !== FRAME_HEADER_BYTES) throw new ProtocolViolation('frame header is not 16 bytes');
  let text: string;
  try {
    text = cipher.decrypt(header).toString('latin1');
  } catch {
    throw new ProtocolViolation('frame header does not decrypt');
  }
  if (!/^[0-9]{1,15}$/.test(text)) throw new ProtocolViolation('frame header is not a decimal length');
  const length = Number(text);
  if (length <= AES_IV_BYTES) throw new ProtocolViolation(`frame length ${length} is too small`);
  if (length > maxFrameSize) throw new ProtocolViolation(`frame length ${length} exceeds cap ${maxFrameSize}`);
  if ((length - AES_IV_BYTES) % 16 !== 0) throw new ProtocolViolation(`frame length ${length} is not block-aligned`);
  return length;
}

/** Decrypts `ciphertext || nextIv` with the current IV, then moves the cipher to nextIv. */
export function openFramePayload(cipher: SessionCipher, payload: Buffer): Buffer {
  if (payload.length <= AES_IV_BYTES) throw new ProtocolViolation('frame payload is too short');
  let body: Buffer;
  try {
    body = cipher.decrypt(payload.subarray(0, payload.length - AES_IV_BYTES));
  } catch {
    throw new ProtocolViolation('frame payload does not decrypt');
  }
  cipher.rotate(payload.subarray(payload.length - AES_IV_BYTES));
  return body;
}

/** UTF-8 JSON object text → object; anything else (bad UTF-8, not JSON, not an object) is a violation. */
export function decodeMessageBody(body: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new ProtocolViolation('message body is not UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolViolation('message body is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolViolation('message body is not a JSON object');
  }
  return value;
}

export function encodeMessageBody(message: unknown): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}
