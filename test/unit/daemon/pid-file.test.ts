import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectPidFile, isAnweddolDaemon } from '../../../src/daemon/pid-file.js';

async function withProcess(args: string[], body: (pid: number) => void | Promise<void>): Promise<void> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', ...args], { stdio: 'ignore' });
  await new Promise<void>((resolve) => child.once('spawn', resolve));
  try {
    await body(child.pid!);
  } finally {
    child.kill('SIGKILL');
  }
}

function withPidFile(content: string, body: (path: string) => void | Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'anweddol-pid-'));
  const path = join(dir, 'server.pid');
  writeFileSync(path, content);
  return Promise.resolve(body(path)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe('pid file', () => {
  it('recognises a daemon started from the built CLI', async () => {
    await withProcess(['/opt/anweddol/dist/src/cli/main.js', 'start', '--foreground'], (pid) => assert.equal(isAnweddolDaemon(pid), true));
  });

  it('recognises a daemon started through the anweddol-server bin', async () => {
    await withProcess(['/usr/bin/anweddol-server', 'start', '--foreground'], (pid) => assert.equal(isAnweddolDaemon(pid), true));
  });

  it("recognises a daemon started through the anwdlserver bin (Anweddol's name)", async () => {
    await withProcess(['/usr/local/bin/anwdlserver', 'start', '--foreground'], (pid) => assert.equal(isAnweddolDaemon(pid), true));
  });

  it('does not take an unrelated process for the daemon', async () => {
    await withProcess([], (pid) => assert.equal(isAnweddolDaemon(pid), false));
  });

  it('does not take a CLI command other than start for the daemon', async () => {
    await withProcess(['/usr/bin/anweddol-server', 'status'], (pid) => assert.equal(isAnweddolDaemon(pid), false));
  });

  it('reads a file naming an unrelated live process as stale', async () => {
    await withProcess([], (pid) =>
      withPidFile(`${pid}\n`, (path) => {
        const found = inspectPidFile(path);
        assert.equal(found.state, 'stale');
        assert.match(found.state === 'stale' ? found.reason : '', new RegExp(`pid ${pid} is not anweddol-server`));
      }),
    );
  });

  it('reads a file naming a live daemon as running', async () => {
    await withProcess(['/usr/bin/anweddol-server', 'start', '--foreground'], (pid) =>
      withPidFile(`${pid}\n`, (path) => assert.deepEqual(inspectPidFile(path), { state: 'running', pid })),
    );
  });

  it('reads a file naming this very process as stale', async () => {
    await withPidFile(`${process.pid}\n`, (path) => assert.equal(inspectPidFile(path).state, 'stale'));
  });

  it('reads a file that holds no pid as stale', async () => {
    await withPidFile('garbage\n', (path) => assert.equal(inspectPidFile(path).state, 'stale'));
  });

  it('reads a missing file as absent', () => {
    assert.deepEqual(inspectPidFile(join(tmpdir(), 'anweddol-no-such-dir', 'server.pid')), { state: 'absent' });
  });
});
