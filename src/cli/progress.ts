// Progress bars for a human at a terminal (cli-progress): rounds of `fl train`, steps of `build-image`; pipes and --json keep plain lines.
import { MultiBar, Presets, type SingleBar } from 'cli-progress';

export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** A bar only where someone watches: a terminal, and not --json (whose stdout is one object). */
export function wantsProgressBar(json: boolean, stream: ProgressStream = process.stdout): boolean {
  return !json && stream.isTTY === true;
}

/** One bar with the messages printed above it. */
export class ProgressBar {
  private readonly multi: MultiBar;
  private readonly bar: SingleBar;

  constructor(format: string, total: number, payload: Record<string, unknown>, stream: NodeJS.WritableStream = process.stdout) {
    this.multi = new MultiBar({ format, stream, hideCursor: true, clearOnComplete: false, stopOnComplete: false, etaBuffer: 4, barsize: 30, autopadding: true }, Presets.shades_classic);
    this.bar = this.multi.create(total, 0, payload);
  }

  /** A line above the bar (events worth keeping in the scrollback). */
  log(line: string): void {
    this.multi.log(`${line}\n`);
  }

  update(value: number, payload: Record<string, unknown> = {}): void {
    this.bar.update(value, payload);
  }

  /** Leaves the last state of the bar on screen and gives the cursor back. */
  stop(): void {
    this.multi.stop();
  }
}

/** `build-image`'s steps are the lines iso/build.sh logs with this prefix (everything else is docker's output). */
export const BUILD_STEP_PREFIX = 'iso/build.sh: ';

/** Steps of the longest build (agent bundle, debootstrap, strip, cache, docker build): a fresh machine's. */
export const BUILD_STEPS = 5;

/** The step a line of iso/build.sh's stderr announces, if it is one. */
export function buildStep(line: string): string | undefined {
  return line.startsWith(BUILD_STEP_PREFIX) ? line.slice(BUILD_STEP_PREFIX.length).trim() : undefined;
}
