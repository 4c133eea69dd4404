// Credential generators (client token, access token, SSH password, username, uuid), all from a CSPRNG.
import { randomBytes, randomInt, randomUUID } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export const CLIENT_TOKEN_PATTERN = /^[0-9a-zA-Z_-]{255}$/;
export const ACCESS_TOKEN_PATTERN = /^[0-9a-zA-Z_-]{124}$/;
export const SSH_PASSWORD_PATTERN = /^[a-zA-Z0-9]{120}$/;
export const USERNAME_PATTERN = /^user_\d{5}$/;
export const UUID4_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** 255 chars of `[0-9a-zA-Z_-]`: base64url of 191 random bytes (no padding). */
export function generateClientToken(): string {
  return randomBytes(191).toString('base64url').slice(0, 255);
}

/** 124 url-safe chars: base64url of 93 random bytes. */
export function generateAccessToken(): string {
  return randomBytes(93).toString('base64url');
}

/** 120 alphanumeric chars, uniformly drawn (randomInt rejects modulo bias). */
export function generateSshPassword(length = 120): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[randomInt(ALNUM.length)];
  return out;
}

/** `user_` + 5 digits in 10000–90000 inclusive. */
export function generateUsername(): string {
  return `user_${randomInt(10000, 90001)}`;
}

export function generateUuid(): string {
  return randomUUID();
}
