// Yes/no questions a command may ask, answered by -y/--assume-yes or -n/--assume-no (Anweddol's flags), or on a terminal.
import { createInterface } from 'node:readline/promises';

export interface PromptAnswers {
  assumeYes?: boolean;
  assumeNo?: boolean;
}

export interface PromptStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
}

/**
 * The answer to `question`: -y says yes, -n says no; otherwise a terminal is asked. Without a
 * terminal (scripts, systemd, --json) nobody can answer, so the safe answer, no, is taken.
 */
export async function confirm(question: string, answers: PromptAnswers, interactive: boolean, streams: PromptStreams = { input: process.stdin, output: process.stderr }): Promise<boolean> {
  if (answers.assumeYes) return true;
  if (answers.assumeNo || !interactive || streams.input.isTTY !== true) return false;
  const prompt = createInterface({ input: streams.input, output: streams.output });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} (y/n) `)).trim());
  } finally {
    prompt.close();
  }
}
