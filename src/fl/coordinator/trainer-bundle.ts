// A user trainer directory (`--trainer DIR`) read into memory once, checked, to be copied into every client sandbox.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Total bytes a trainer directory may hold: it is copied into every client sandbox. */
export const MAX_TRAINER_BYTES = 16 * 1024 * 1024;
export const MAX_TRAINER_FILES = 1000;
/** The executable every trainer directory must have at its top level. */
export const TRAINER_ENTRY = 'train';

export interface TrainerFile {
  /** Path relative to the trainer directory, `/`-separated. */
  name: string;
  content: Buffer;
  mode: number;
}

export interface TrainerBundle {
  files: TrainerFile[];
  bytes: number;
}

export class TrainerBundleError extends Error {
  constructor(message: string) {
    super(`trainer: ${message}`);
    this.name = 'TrainerBundleError';
  }
}

/**
 * Reads `dir` recursively. Refuses symlinks and special files (a link could pull any file of the daemon's host
 * into a sandbox), a directory past the size or file caps, and a missing or non-executable `train`.
 */
export function loadTrainerBundle(dir: string, maxBytes = MAX_TRAINER_BYTES): TrainerBundle {
  const top = statOrFail(dir, dir);
  if (top.isSymbolicLink() || !top.isDirectory()) throw new TrainerBundleError(`${dir} is not a directory`);
  const files: TrainerFile[] = [];
  let bytes = 0;
  const walk = (relative: string) => {
    for (const entry of readdirSync(join(dir, relative)).sort()) {
      const name = relative === '' ? entry : `${relative}/${entry}`;
      const path = join(dir, name);
      const st = statOrFail(path, dir);
      if (st.isSymbolicLink()) throw new TrainerBundleError(`${path} is a symbolic link (links are refused: copy the file in)`);
      if (st.isDirectory()) {
        walk(name);
        continue;
      }
      if (!st.isFile()) throw new TrainerBundleError(`${path} is not a regular file`);
      bytes += st.size;
      if (bytes > maxBytes) throw new TrainerBundleError(`${dir} holds more than ${maxBytes} bytes`);
      if (files.length >= MAX_TRAINER_FILES) throw new TrainerBundleError(`${dir} holds more than ${MAX_TRAINER_FILES} files`);
      // Owner bits decide: executable files stay executable, nothing becomes writable by others in the sandbox.
      files.push({ name, content: readRegularFile(path), mode: st.mode & 0o100 ? 0o755 : 0o644 });
    }
  };
  walk('');
  const entry = files.find((f) => f.name === TRAINER_ENTRY);
  if (!entry) throw new TrainerBundleError(`${dir} has no '${TRAINER_ENTRY}' file at its top level`);
  if (entry.mode !== 0o755) throw new TrainerBundleError(`${join(dir, TRAINER_ENTRY)} is not executable (chmod +x it)`);
  return { files, bytes };
}

/** O_NOFOLLOW: a file swapped for a link after the lstat above is refused, not followed. */
function readRegularFile(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    throw new TrainerBundleError(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new TrainerBundleError(`${path} is not a regular file`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function statOrFail(path: string, dir: string) {
  try {
    return lstatSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TrainerBundleError(code === 'ENOENT' ? `${path} does not exist` : `cannot read ${path} in ${dir} (${code ?? (e as Error).message})`);
  }
}

/** A user trainer is stopped before the round deadline, so its failure reaches the coordinator in time. */
export function trainerTimeoutSeconds(roundTimeoutSeconds: number): number {
  return Math.round(Math.max(roundTimeoutSeconds * 0.8, roundTimeoutSeconds - 10) * 10) / 10;
}
