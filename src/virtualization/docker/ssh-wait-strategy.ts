// Readiness of a sandbox: its sshd sent an SSH banner through the published port (docker-proxy accepts before sshd is up).
import { connect } from 'node:net';

export interface WaitTarget {
  host: string;
  port: number;
}

export interface WaitStrategy {
  /** Resolves once the target is ready; rejects on timeout or abort. */
  waitUntilReady(target: WaitTarget, signal?: AbortSignal): Promise<void>;
}

export class ReadinessTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`sshd did not answer within ${timeoutMs} ms`);
    this.name = 'ReadinessTimeoutError';
  }
}

export interface SshWaitStrategyOptions {
  timeoutMs: number;
  /** Pause between attempts. */
  intervalMs?: number;
  /** Give up on one connection attempt after this long. */
  attemptTimeoutMs?: number;
}

/** Outcome of one connection: the banner line came back, or not (yet). */
function readBanner(target: WaitTarget, attemptTimeoutMs: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    let received = '';
    const finish = (ready: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(ready);
    };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(false), attemptTimeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      // RFC 4253 §4.2: the server may send other lines before the identification string.
      const lines = received.split('\n');
      if (lines.slice(0, -1).some((line) => line.startsWith('SSH-'))) finish(true);
      else if (received.length > 8192) finish(false);
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}

export class SshWaitStrategy implements WaitStrategy {
  private readonly intervalMs: number;
  private readonly attemptTimeoutMs: number;

  constructor(private readonly options: SshWaitStrategyOptions) {
    this.intervalMs = options.intervalMs ?? 50;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 2000;
  }

  async waitUntilReady(target: WaitTarget, signal?: AbortSignal): Promise<void> {
    const { timeoutMs } = this.options;
    const deadline = AbortSignal.timeout(timeoutMs);
    const stop = signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
    while (!stop.aborted) {
      if (await readBanner(target, this.attemptTimeoutMs, stop)) return;
      if (stop.aborted) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.intervalMs);
        function done() {
          clearTimeout(timer);
          stop.removeEventListener('abort', done);
          resolve();
        }
        stop.addEventListener('abort', done, { once: true });
      });
    }
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
    throw new ReadinessTimeoutError(timeoutMs);
  }
}
