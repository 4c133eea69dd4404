import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { startDaemon } from '../../src/daemon/daemon.js';
import { createTestInstall, type TestInstall } from '../helpers/cli-runner.js';

/** Starts and stops a daemon with REST on; returns its log file. */
async function runDaemonOnce(install: TestInstall): Promise<string> {
  const daemon = await startDaemon(loadConfig(install.configPath, {}), { web: true });
  await daemon.stop();
  return readFileSync(join(install.dir, 'log/server.log'), 'utf8');
}

describe('web_server.log_file_path and web_server.pid_file_path (Anweddol compatibility)', () => {
  const installs: TestInstall[] = [];
  after(() => installs.forEach((i) => i.remove()));

  it('are accepted but ignored, with one warning line each in the server log', async () => {
    const install = await createTestInstall({ web_server: { log_file_path: 'log/web.log', pid_file_path: 'run/web.pid' } });
    installs.push(install);
    const log = await runDaemonOnce(install);
    const warnings = log.split('\n').filter((line) => /web_server\.(log|pid)_file_path/.test(line));
    assert.equal(warnings.length, 2, log);
    assert.match(warnings[0]!, /WARN.*web_server\.log_file_path is ignored: REST runs in this daemon and logs to server\.log_file_path/i);
    assert.match(warnings[1]!, /WARN.*web_server\.pid_file_path is ignored: REST runs in this daemon, whose pid is in server\.pid_file_path/i);
    assert.equal(existsSync(join(install.dir, 'log/web.log')), false);
    assert.equal(existsSync(join(install.dir, 'run/web.pid')), false);
  });

  it('say nothing when left null', async () => {
    const install = await createTestInstall();
    installs.push(install);
    assert.doesNotMatch(await runDaemonOnce(install), /web_server\./);
  });
});
