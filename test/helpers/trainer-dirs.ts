// Trainer directories for tests: the shipped examples, and a wrapper that misbehaves for one client and round.
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PYTHON_TRAINER = fileURLToPath(new URL('../../examples/trainers/python-numpy/', import.meta.url));
export const NODE_TRAINER = fileURLToPath(new URL('../../examples/trainers/node/', import.meta.url));

/** What the wrapped trainer does instead of (or, for slow, before) training, for `client` in `round` (train mode only). */
export const MISBEHAVIOURS = {
  crash: 'echo "boom" >&2; exit 3',
  hang: 'sleep 300',
  /** Trains after all, 1.5 s late. */
  slow: 'sleep 1.5',
  malformed: 'printf "not a safetensors file" > "$ANWEDDOL_FL_MODEL_OUT"; echo \'{"samples": 10}\'; exit 0',
} as const;

/**
 * A trainer directory: the Node example as `real-train`, behind a `train` that misbehaves once.
 * The caller removes the returned folder.
 */
export function misbehavingTrainer(kind: keyof typeof MISBEHAVIOURS, client: string, round: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'fl-trainer-'));
  copyFileSync(join(NODE_TRAINER, 'train'), join(dir, 'real-train'));
  chmodSync(join(dir, 'real-train'), 0o755);
  writeFileSync(join(dir, 'train'), [
    '#!/bin/sh',
    `if [ "$ANWEDDOL_FL_MODE" = train ] && [ "$ANWEDDOL_FL_CLIENT_ID" = ${client} ] && [ "$ANWEDDOL_FL_ROUND" = ${round} ]; then`,
    `  ${MISBEHAVIOURS[kind]}`,
    'fi',
    'exec "$(dirname "$0")/real-train"',
    '',
  ].join('\n'), { mode: 0o755 });
  return dir;
}
