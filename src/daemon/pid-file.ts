// The daemon's pid file: written by the running daemon, read by stop/status/restart; stale files are recognised and removed.
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

/** The CLI entry as a process sees it: the `anweddol-server` or `anwdlserver` bin, or `…/cli/main.ts|js` (sources or dist). */
const CLI_ENTRY = /(?:^|\/)(?:anweddol-server|anwdlserver)$|\/cli\/main\.[cm]?[jt]s$/;

/**
 * Whether `pid` runs this CLI's `start` (every daemon does, foreground or detached), from /proc/<pid>/cmdline.
 * Where /proc cannot tell (another OS, hidepid), a live process is taken for the daemon, as before.
 */
export function isAnweddolDaemon(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch (error) {
    // No /proc/<pid> while /proc works: the process is gone.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !procUnavailable()) return false;
    return isProcessAlive(pid);
  }
  const args = cmdline.split('\0');
  return args.includes('start') && args.some((arg) => CLI_ENTRY.test(arg));
}

function procUnavailable(): boolean {
  try {
    readFileSync('/proc/self/cmdline');
    return false;
  } catch {
    return true;
  }
}

export type PidFileState = { state: 'absent' } | { state: 'running'; pid: number } | { state: 'stale'; pid?: number; reason: string };

/** What the pid file says: no file, a live daemon, or a stale file (dead pid, pid reused by another process, garbage). */
export function inspectPidFile(path: string): PidFileState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return { state: 'absent' };
  }
  if (!/^\d+$/.test(text)) return { state: 'stale', reason: 'it holds no pid' };
  const pid = Number(text);
  if (pid === process.pid) return { state: 'stale', pid, reason: `pid ${pid} is this command, not a running daemon` };
  if (!isProcessAlive(pid)) return { state: 'stale', pid, reason: `no process ${pid}` };
  if (!isAnweddolDaemon(pid)) return { state: 'stale', pid, reason: `pid ${pid} is not anweddol-server (reused by another process)` };
  return { state: 'running', pid };
}

/**
 * The pid of a live daemon according to the pid file, or undefined. A stale file is removed
 * (unless it changed meanwhile) and `notice` receives one line saying so.
 */
export function runningPid(path: string, notice: (line: string) => void = () => {}): number | undefined {
  const found = inspectPidFile(path);
  if (found.state === 'running') return found.pid;
  if (found.state === 'stale') {
    try {
      if (found.pid === undefined) rmSync(path, { force: true });
      else removePidFile(path, found.pid);
      notice(`removed stale pid file ${path} (${found.reason})`);
    } catch (error) {
      notice(`stale pid file ${path} (${found.reason}) could not be removed (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return undefined;
}

export function writePidFile(path: string, pid: number = process.pid): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  writeFileSync(path, `${pid}\n`, { mode: 0o644 });
}

/** Removes the pid file only if it still names `pid` (a newer daemon may own it). */
export function removePidFile(path: string, pid: number = process.pid): void {
  if (readPidFile(path) === pid) rmSync(path, { force: true });
}
