import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTrainerBundle, TrainerBundleError } from '../../../src/fl/coordinator/trainer-bundle.js';

const root = mkdtempSync(join(tmpdir(), 'trainer-bundle-'));
let n = 0;

/** A fresh trainer folder with an executable `train` (unless told otherwise). */
function folder(files: Record<string, { content?: string; mode?: number }> = { train: {} }): string {
  const dir = join(root, `t${n++}`);
  mkdirSync(dir);
  for (const [name, f] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), f.content ?? '#!/bin/sh\n', { mode: f.mode ?? 0o755 });
  }
  return dir;
}

describe('trainer directories (--trainer DIR)', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('reads nested files and keeps only the executable bit of their modes', () => {
    const dir = folder({ train: { mode: 0o775 }, 'lib/model.py': { content: 'x = 1\n', mode: 0o666 } });
    const bundle = loadTrainerBundle(dir);
    assert.deepEqual(bundle.files.map((f) => [f.name, f.mode]), [['lib/model.py', 0o644], ['train', 0o755]]);
    assert.equal(bundle.bytes, 'x = 1\n'.length + '#!/bin/sh\n'.length);
  });

  it('refuses a symbolic link, naming it', () => {
    const dir = folder();
    symlinkSync('/etc/passwd', join(dir, 'data.csv'));
    assert.throws(() => loadTrainerBundle(dir), (e: Error) => e instanceof TrainerBundleError && /data\.csv is a symbolic link/.test(e.message));
  });

  it('refuses a folder without a top-level train', () => {
    const dir = folder({ 'sub/train': {} });
    assert.throws(() => loadTrainerBundle(dir), /has no 'train' file at its top level/);
  });

  it('refuses a train that is not executable', () => {
    const dir = folder({ train: { mode: 0o644 } });
    assert.throws(() => loadTrainerBundle(dir), /is not executable/);
  });

  it('refuses a folder past the size cap', () => {
    const dir = folder({ train: {}, 'weights.bin': { content: 'x'.repeat(2000) } });
    assert.throws(() => loadTrainerBundle(dir, 1024), /holds more than 1024 bytes/);
  });

  it('refuses a path that is not a directory', () => {
    assert.throws(() => loadTrainerBundle(join(root, 'missing')), /does not exist/);
  });
});
