// How commands answer: one JSON object `{status, message, data}` on stdout with --json, readable lines otherwise.

export interface CliResult {
  message: string;
  data?: Record<string, unknown>;
  /** Human form; defaults to the message. */
  lines?: string[];
  /** Non-zero exit without being an error (e.g. `status` of a stopped server). */
  exitCode?: number;
}

/** A failure a command reports to its user (exit 1); `data` goes into the JSON object. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly data: Record<string, unknown> = {},
    readonly lines: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface OutputStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export class CliOutput {
  constructor(
    readonly json: boolean,
    private readonly streams: OutputStreams = process,
  ) {}

  /** Progress for humans (stderr in JSON mode so stdout stays one object). */
  progress(line: string): void {
    (this.json ? this.streams.stderr : this.streams.stdout).write(`${line}\n`);
  }

  /** A warning a human must see whatever the mode: always stderr, never mixed into the JSON object. */
  warning(line: string): void {
    this.streams.stderr.write(`warning: ${line}\n`);
  }

  success(result: CliResult): number {
    if (this.json) this.writeJson('OK', result.message, result.data ?? {});
    else this.streams.stdout.write(`${(result.lines ?? [result.message]).join('\n')}\n`);
    return result.exitCode ?? 0;
  }

  failure(error: unknown): number {
    const known = error instanceof CliError || (error instanceof Error && error.name === 'ConfigError');
    const message = known ? (error as Error).message : `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
    const data = error instanceof CliError ? error.data : error instanceof Error && 'problems' in error ? { problems: (error as { problems: string[] }).problems } : {};
    if (this.json) this.writeJson('ERROR', message, data);
    else {
      const extra = error instanceof CliError ? error.lines : [];
      this.streams.stderr.write(`error: ${message.split('\n').join('\nerror: ')}\n${extra.map((l) => `${l}\n`).join('')}`);
    }
    return 1;
  }

  private writeJson(status: 'OK' | 'ERROR', message: string, data: Record<string, unknown>): void {
    this.streams.stdout.write(`${JSON.stringify({ status, message, data })}\n`);
  }
}
