import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { startDaemon } from '../../src/daemon/daemon.js';
import { createTestInstall, type TestInstall } from '../helpers/cli-runner.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

/** Runs a daemon whose BOOM verb throws, calls it once over TCP, stops; returns the log file. */
async function logOfFailingVerb(install: TestInstall, logStackTraces: boolean): Promise<string> {
  const daemon = await startDaemon(loadConfig(install.configPath, {}), { logStackTraces });
  try {
    daemon.server.setRequestHandler('BOOM', () => {
      throw new Error('kaboom');
    });
    const port = install.config.server!.listen_port as number;
    const client = new AnweddolTcpClient({ host: '127.0.0.1', port, keyPair: await testClientKeyPair(), timeoutMs: 10_000 });
    assert.equal((await client.request('BOOM')).message, 'Internal error');
  } finally {
    await daemon.stop();
  }
  return readFileSync(join(install.dir, 'log/server.log'), 'utf8');
}

describe('logStackTraces (start --enable-traceback-log)', () => {
  const installs: TestInstall[] = [];
  after(() => installs.forEach((i) => i.remove()));

  it('logs the stack trace of a runtime error', async () => {
    const install = await createTestInstall();
    installs.push(install);
    const log = await logOfFailingVerb(install, true);
    assert.match(log, /ERROR stack trace of the runtime error in handler BOOM: Error: kaboom\s+at \S+ \(.*traceback-log\.test\.ts:\d+/);
  });

  it('is off by default: the runtime error is one line', async () => {
    const install = await createTestInstall();
    installs.push(install);
    const log = await logOfFailingVerb(install, false);
    assert.match(log, /runtime error in handler BOOM: Error: kaboom/);
    assert.doesNotMatch(log, /stack trace/);
  });
});
