// startDaemon(config, { plugins }) from the library entry (src/index.ts): plugin objects and paths, after the config's own.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AnweddolTcpClient, loadConfig, startDaemon, type DaemonPlugin, type RunningDaemon } from '../../src/index.js';
import { createTestInstall, REPO_ROOT, type TestInstall } from '../helpers/cli-runner.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

describe('startDaemon with plugins', () => {
  let install: TestInstall;
  let daemon: RunningDaemon;
  const events: string[] = [];
  const inline: DaemonPlugin = {
    name: 'inline',
    configSchema: { type: 'object', properties: { word: { type: 'string', default: 'pong' } } },
    register: (api) => {
      events.push(api.server.getRuntimeStatistics().isRunning ? 'registered while running' : 'registered before start');
      api.server.setRequestHandler('PING', () => ({ success: true, message: 'OK', data: { word: api.config.word } }));
      return { stop: () => void events.push('stopped') };
    },
  };

  before(async () => {
    install = await createTestInstall();
    (install.config as Record<string, unknown>).plugins = [{ path: join(REPO_ROOT, 'examples/plugins/custom-verb.mjs'), config: { motd: 'from the file' } }];
    install.save();
    daemon = await startDaemon(loadConfig(install.configPath, {}), { plugins: [inline] });
  });
  after(async () => {
    await daemon?.stop();
    install.remove();
  });

  const tcp = async () => new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 10_000 });

  it('serves the verbs of the config plugins and of the given plugin objects', async () => {
    const client = await tcp();
    assert.equal((await client.request('INFO')).data.motd, 'from the file');
    assert.deepEqual((await client.request('PING')).data, { word: 'pong' });
  });

  it('registers plugins before the server starts', () => {
    assert.deepEqual(events, ['registered before start']);
  });

  it('stops the plugins with the daemon', async () => {
    await daemon.stop();
    assert.deepEqual(events, ['registered before start', 'stopped']);
  });
});
