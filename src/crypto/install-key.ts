// A per-install secret key in a file of its own (0600): read it, or create it with random bytes on first start.
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { AnweddolError } from '../shared/errors.js';

export const INSTALL_KEY_BYTES = 32;

/** The key file is unusable (unreadable, wrong size, readable by others): the message names the file and the fix. */
export class InstallKeyError extends AnweddolError {
  constructor(message: string, options?: ErrorOptions) {
    super('INSTALL_KEY', message, options);
  }
}

/** Reads the key at `path`, creating the file (0600, folder 0750) with fresh random bytes if it does not exist. */
export function loadOrCreateInstallKey(path: string): Buffer {
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  try {
    // 'wx': never overwrite a key another process wrote in the meantime; the mode applies at creation.
    const fd = openSync(path, 'wx', 0o600);
    try {
      const key = randomBytes(INSTALL_KEY_BYTES);
      writeSync(fd, key);
      return key;
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new InstallKeyError(`${path}: cannot create the key file (${code(error)})`, { cause: error });
  }
  return readInstallKey(path);
}

function readInstallKey(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new InstallKeyError(`${path}: cannot read the key file (${code(error)})`, { cause: error });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new InstallKeyError(`${path}: not a regular file`);
    if ((stat.mode & 0o077) !== 0) throw new InstallKeyError(`${path}: readable by others (mode ${(stat.mode & 0o777).toString(8)}); run chmod 600 on it`);
    const key = readFileSync(fd);
    if (key.length !== INSTALL_KEY_BYTES) throw new InstallKeyError(`${path}: holds ${key.length} bytes, expected ${INSTALL_KEY_BYTES}; delete it to make a new one`);
    return key;
  } finally {
    closeSync(fd);
  }
}

function code(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}
