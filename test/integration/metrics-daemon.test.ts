// The daemon serves its metrics on metrics.listen_port, and opens nothing when metrics are disabled.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { startDaemon } from '../../src/daemon/daemon.js';
import { createTestInstall, type TestInstall } from '../helpers/cli-runner.js';
import { scrape } from '../helpers/prometheus-text.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

describe('metrics in the daemon', () => {
  const installs: TestInstall[] = [];
  after(() => installs.forEach((i) => i.remove()));

  async function install(metrics: Record<string, unknown> = {}): Promise<TestInstall> {
    const created = await createTestInstall({ metrics });
    installs.push(created);
    return created;
  }

  it('serves GET /metrics on metrics.listen_port, counting the daemon’s requests', async () => {
    const i = await install();
    const daemon = await startDaemon(loadConfig(i.configPath, {}));
    try {
      const client = new AnweddolTcpClient({ host: '127.0.0.1', port: i.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 10_000 });
      await client.stat();
      const sample = await scrape(`http://127.0.0.1:${i.config.metrics!.listen_port as number}/metrics`);
      assert.equal(sample.value('anweddol_requests_total', { verb: 'STAT', result: 'OK', transport: 'tcp' }), 1);
      assert.equal(sample.value('anweddol_capacity'), 6);
    } finally {
      await daemon.stop();
    }
    const log = readFileSync(join(i.dir, 'log/server.log'), 'utf8');
    assert.match(log, /INFO metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    assert.doesNotMatch(log, /without authentication/);
  });

  it('opens no metrics port when metrics.enabled is false', async () => {
    const i = await install({ enabled: false });
    const daemon = await startDaemon(loadConfig(i.configPath, {}));
    try {
      await assert.rejects(fetch(`http://127.0.0.1:${i.config.metrics!.listen_port as number}/metrics`), /fetch failed/);
    } finally {
      await daemon.stop();
    }
  });
});
