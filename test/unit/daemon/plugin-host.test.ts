import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RsaKeyPair } from '../../../src/crypto/rsa-key-pair.js';
import { AdminRouter } from '../../../src/daemon/admin-channel.js';
import type { PluginRegister } from '../../../src/daemon/plugins/plugin-api.js';
import { PluginHost } from '../../../src/daemon/plugins/plugin-host.js';
import { PluginError, type LoadedPlugin } from '../../../src/daemon/plugins/plugin-loader.js';
import { AnweddolServer } from '../../../src/server/anweddol-server.js';
import { clientInfo } from '../../../src/server/client-info.js';
import { MemoryLogger } from '../../helpers/memory-logger.js';
import { testServerKeyPair } from '../../helpers/test-keys.js';

const CLIENT = clientInfo('127.0.0.1', 40000, 'http', Buffer.alloc(32));
const OK = { success: true, message: 'OK', data: {} };
const NO_SIGNAL = { notify: () => {}, signal: new AbortController().signal };

let keyPair: RsaKeyPair;
before(async () => {
  keyPair = await testServerKeyPair();
});

function loaded(name: string, register: PluginRegister, index = 0, config: Record<string, unknown> = {}): LoadedPlugin {
  const key = `plugins[${index}]`;
  return { name, key, label: `plugin "${name}" (${key})`, register, config };
}

function harness() {
  const logger = new MemoryLogger();
  const server = new AnweddolServer({ rsaKeyPair: keyPair, enableTcp: false, logger });
  const admin = new AdminRouter();
  const host = new PluginHost({ server, admin, logger, cleanupTimeoutMs: 200 });
  const call = (verb: string) => server.dispatch({ verb, parameters: {} }, CLIENT);
  return { logger, server, admin, host, call };
}

async function rejection(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PluginError, String(error));
    return error.problems;
  }
  assert.fail('expected a PluginError');
}

describe('PluginHost', () => {
  it('hands each plugin its config and answers its verb', async () => {
    const { host, call } = harness();
    await host.registerAll([loaded('hello', (api) => void api.server.setRequestHandler('HELLO', () => ({ ...OK, data: { greeting: api.config.greeting } })), 0, { greeting: 'hi' })]);
    assert.deepEqual(await call('HELLO'), { ...OK, data: { greeting: 'hi' } });
  });

  it('runs cleanups in reverse load order at stop', async () => {
    const { host } = harness();
    const order: string[] = [];
    await host.registerAll([
      loaded('a', () => () => void order.push('a')),
      loaded('b', async () => ({ stop: async () => void order.push('b') }), 1),
      loaded('c', () => undefined, 2),
    ]);
    await host.stop();
    assert.deepEqual(order, ['b', 'a']);
  });

  it('refuses a verb two plugins set, naming both', async () => {
    const { host } = harness();
    const setHello: PluginRegister = (api) => void api.server.setRequestHandler('HELLO', () => OK);
    assert.deepEqual(await rejection(host.registerAll([loaded('first', setHello), loaded('second', setHello, 1)])), [
      'plugin "second" (plugins[1]): verb HELLO is already set by plugin "first" (plugins[0])',
    ]);
  });

  it('refuses to replace a built-in verb unless asked explicitly', async () => {
    const { host } = harness();
    const problems = await rejection(host.registerAll([loaded('stat', (api) => void api.server.setRequestHandler('STAT', () => OK))]));
    assert.deepEqual(problems, ['plugin "stat" (plugins[0]): verb STAT is built in; pass { replaceBuiltIn: true } to setRequestHandler to replace it']);
  });

  it('replaces a built-in verb with replaceBuiltIn', async () => {
    const { host, call } = harness();
    await host.registerAll([loaded('stat', (api) => void api.server.setRequestHandler('STAT', () => ({ ...OK, data: { version: 'x', uptime: 0, available: 0 } }), { replaceBuiltIn: true }))]);
    assert.equal((await call('STAT')).data.version, 'x');
  });

  it('names the plugin whose register() throws', async () => {
    const { host } = harness();
    const problems = await rejection(
      host.registerAll([
        loaded('bad', () => {
          throw new Error('no token');
        }),
      ]),
    );
    assert.deepEqual(problems, ['plugin "bad" (plugins[0]): register() threw: Error: no token']);
  });

  it('refuses a register() result that is neither a cleanup nor { stop() }', async () => {
    const { host } = harness();
    const problems = await rejection(host.registerAll([loaded('odd', (() => 42) as unknown as PluginRegister)]));
    assert.match(problems[0]!, /^plugin "odd" \(plugins\[0\]\): register\(\) must return nothing, a cleanup function or \{ stop\(\) \}$/);
  });

  it('counts and names a hook that throws, and the server keeps serving', async () => {
    const { host, server, logger, call } = harness();
    await host.registerAll([
      loaded('noisy', (api) => {
        api.server.on('request', () => {
          throw new Error('hook broke');
        });
      }),
    ]);
    assert.equal((await call('STAT')).message, 'OK');
    assert.equal(server.getRuntimeStatistics().runtimeErrors, 1);
    assert.match(logger.text(), /runtime error in event handler request: PluginFault: plugin "noisy" \(plugins\[0\]\): request hook: Error: hook broke/);
  });

  it('answers Internal error for a verb that throws, counted and named', async () => {
    const { host, server, logger, call } = harness();
    await host.registerAll([
      loaded('crashy', (api) => {
        api.server.setRequestHandler('BOOM', () => {
          throw new Error('verb broke');
        });
      }),
    ]);
    assert.equal((await call('BOOM')).message, 'Internal error');
    assert.equal(server.getRuntimeStatistics().runtimeErrors, 1);
    assert.match(logger.text(), /plugin "crashy" \(plugins\[0\]\): BOOM handler threw: Error: verb broke/);
  });

  it('names the plugin whose verb answers a malformed response', async () => {
    const { host, logger, call } = harness();
    await host.registerAll([loaded('sloppy', (api) => void api.server.setRequestHandler('SLOPPY', () => ({ success: true }) as never))]);
    assert.equal((await call('SLOPPY')).message, 'Internal error');
    assert.match(logger.text(), /plugin "sloppy" \(plugins\[0\]\): SLOPPY handler answered a malformed response/);
  });

  it('removes a hook with off()', async () => {
    const { host, server } = harness();
    let seen = 0;
    const hook = () => void seen++;
    await host.registerAll([
      loaded('toggle', (api) => {
        api.server.on('custom_event', hook);
        api.server.off('custom_event', hook);
      }),
    ]);
    await server.emitEvent('custom_event');
    assert.equal(seen, 0);
  });

  it('tags the plugin logger lines with its name', async () => {
    const { host, logger } = harness();
    await host.registerAll([loaded('chatty', (api) => api.logger.warn('hello'))]);
    assert.ok(logger.lines.some((l) => l.level === 'warn' && l.message === '[plugin chatty] hello'));
  });

  it('adds admin methods, whose failures reach the caller with the method name', async () => {
    const { host, admin } = harness();
    await host.registerAll([
      loaded('admin', (api) => {
        api.admin.register('admin.echo', (params) => params);
        api.admin.register('admin.fail', () => {
          throw new Error('nothing to tail');
        });
      }),
    ]);
    assert.deepEqual(await admin.call('admin.echo', { a: 1 }, NO_SIGNAL), { a: 1 });
    await assert.rejects(admin.call('admin.fail', {}, NO_SIGNAL), { name: 'AdminError', message: 'admin.fail: nothing to tail' });
  });

  it('names the plugin that registers an admin method that exists', async () => {
    const { host, admin } = harness();
    admin.register('status', () => 'daemon');
    const problems = await rejection(host.registerAll([loaded('shadow', (api) => void api.admin.register('status', () => 'plugin'))]));
    assert.match(problems[0]!, /^plugin "shadow" \(plugins\[0\]\): cannot register admin method "status": Error: admin method status registered twice$/);
  });

  it('logs a cleanup that fails or hangs and still runs the others', async () => {
    const { host, logger } = harness();
    let ran = false;
    await host.registerAll([
      loaded('last', () => () => void (ran = true)),
      loaded('hangs', () => () => new Promise(() => {}), 1),
      loaded('fails', () => () => Promise.reject(new Error('flush failed')), 2),
    ]);
    await host.stop();
    assert.equal(ran, true);
    assert.match(logger.text(), /plugin "fails" \(plugins\[2\]\): cleanup failed: Error: flush failed/);
    assert.match(logger.text(), /plugin "hangs" \(plugins\[1\]\): cleanup failed: Error: did not finish within 200 ms/);
  });
});
