// Starts the daemon in the background: re-spawns this CLI with --foreground, detached, and waits until it answers.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRequest } from './admin-channel.js';

export interface DaemonizeOptions {
  execPath: string;
  execArgv: string[];
  script: string;
  configPath: string;
  web: boolean;
  /** Log stack traces of runtime errors (`--enable-traceback-log`). */
  logStackTraces?: boolean;
  /** Absolute `--plugin` paths handed on to the daemon. */
  plugins?: readonly string[];
  adminSocketPath: string;
  env: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
}

/** Resolves with the daemon's pid once its admin channel answers; rejects with its own error message otherwise. */
export async function daemonize(options: DaemonizeOptions): Promise<{ pid: number; status: Record<string, unknown> }> {
  // The child's output goes to a scratch file: read on failure to report why, removed on success.
  const scratch = mkdtempSync(join(tmpdir(), 'anweddol-start-'));
  const outputPath = join(scratch, 'output');
  const fd = openSync(outputPath, 'w', 0o600);
  // The caller has checked the environment already.
  const args = [
    ...options.execArgv,
    options.script,
    'start',
    '--foreground',
    '--json',
    '--skip-check',
    '--config',
    options.configPath,
    ...(options.web ? ['--web'] : []),
    ...(options.logStackTraces ? ['--enable-traceback-log'] : []),
    ...(options.plugins ?? []).flatMap((path) => ['--plugin', path]),
  ];
  const child = spawn(options.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: options.env });
  closeSync(fd);
  let exited: number | undefined;
  child.once('exit', (code, signal) => (exited = code ?? (signal ? 128 : 1)));
  child.unref();
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  try {
    while (Date.now() < deadline) {
      if (exited !== undefined) throw new Error(failureMessage(outputPath, exited));
      const status = (await adminRequest(options.adminSocketPath, 'status', {}, { timeoutMs: 2000 }).catch(() => undefined)) as
        | Record<string, unknown>
        | undefined;
      if (status && status.pid === child.pid && status.running === true) return { pid: child.pid!, status };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill('SIGTERM');
    throw new Error(`the daemon did not answer within ${Math.round((options.readyTimeoutMs ?? 120_000) / 1000)} s`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function failureMessage(outputPath: string, code: number): string {
  const text = readFileSync(outputPath, 'utf8').trim();
  for (const line of text.split('\n').reverse()) {
    try {
      const parsed = JSON.parse(line) as { status?: string; message?: string };
      if (parsed.status === 'ERROR' && parsed.message) return parsed.message;
    } catch {
      // not a JSON line
    }
  }
  return `the daemon exited with code ${code}${text ? `: ${text.split('\n').slice(-3).join(' | ')}` : ''}`;
}
