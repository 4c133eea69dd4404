// The daemon's pid file: written by the running daemon, read by stop/status/restart; stale files are ignored.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readPidFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

/** The pid of a live daemon according to the pid file, or undefined. */
export function runningPid(path: string): number | undefined {
  const pid = readPidFile(path);
  return pid !== undefined && isProcessAlive(pid) ? pid : undefined;
}

export function writePidFile(path: string, pid: number = process.pid): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  writeFileSync(path, `${pid}\n`, { mode: 0o644 });
}

/** Removes the pid file only if it still names `pid` (a newer daemon may own it). */
export function removePidFile(path: string, pid: number = process.pid): void {
  if (readPidFile(path) === pid) rmSync(path, { force: true });
}
