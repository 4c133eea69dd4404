// Polling waits for the tests: a condition that turns true, or a probe that yields a value, within a deadline.
import { setTimeout as sleep } from 'node:timers/promises';

export interface UntilOptions {
  /** Named in the timeout error (default "condition"). */
  what?: string;
  /** Pause between two polls, in ms (default 20; make it larger for a costly probe). */
  everyMs?: number;
}

/** Polls `probe` until it yields a value other than undefined, and resolves with it; rejects after `timeoutMs`. */
export async function untilValue<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000, options: UntilOptions = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${options.what ?? 'condition'} not met within ${timeoutMs} ms`);
    await sleep(options.everyMs ?? 20);
  }
}

/** Polls `condition` until it holds; resolves with the ms it waited, rejects after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000, options: UntilOptions = {}): Promise<number> {
  const started = Date.now();
  await untilValue(async () => ((await condition()) ? true : undefined), timeoutMs, options);
  return Date.now() - started;
}
