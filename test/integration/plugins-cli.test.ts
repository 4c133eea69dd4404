// Daemon plugins through the real CLI: plugins live in a temp folder outside the repository and get only `api`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { AnweddolHttpClient } from '../../src/client/http-client.js';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { serverIdFor } from '../../src/daemon/virtualization-factory.js';
import { createTestInstall, jsonOf, REPO_ROOT, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { containersOf } from '../helpers/docker-sandbox.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

const dockerHost = process.env.DOCKER_HOST;

/** A folder outside the repository: plugins there cannot import anything of ours. */
function pluginFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'anweddol-plugins-'));
  assert.equal(dir.startsWith(REPO_ROOT), false);
  return dir;
}

/** Writes a plugin module into `dir` and returns its path. */
function writePlugin(dir: string, file: string, source: string): string {
  const path = join(dir, file);
  writeFileSync(path, source);
  return path;
}

const VETO_PLUGIN = `
let reason;
export function register(api) {
  api.admin.register('veto.set', (params) => {
    reason = typeof params.reason === 'string' ? params.reason : undefined;
    return { reason: reason ?? null };
  });
  api.server.on('created_container', (ctx) => (reason === undefined ? undefined : ctx.refuse(reason)));
}
`;

const CRASHY_PLUGIN = `
export function register(api) {
  api.server.setRequestHandler('BOOM', async () => { throw new Error('verb exploded'); });
  api.server.on('unhandled_verb', async () => { throw new Error('hook exploded'); });
}
`;

interface Notification {
  event: string;
  container_id: string | null;
}

describe('plugins in the CLI daemon, with real sandboxes', { skip: dockerHost?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  let install: TestInstall;
  let plugins: string;
  let serverId: string;
  let receiver: Server;
  const notifications: Notification[] = [];
  let receiverCalls = 0;
  const cli = (...args: string[]) => runCli([...args, '--config', install.configPath], { timeoutMs: 120_000 });
  const tcp = async () => new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 60_000 });
  const rest = () => new AnweddolHttpClient({ baseUrl: `http://127.0.0.1:${install.config.web_server!.listen_port as number}` });
  const available = async () => (await (await tcp()).stat()).data.available;
  const auditLines = () => readFileSync(join(install.dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

  before(async () => {
    // Every second delivery attempt fails first, so the daemon's notifier has to retry.
    receiver = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString('utf8')));
      req.on('end', () => {
        receiverCalls++;
        if (receiverCalls % 2 === 1) return void res.writeHead(503).end();
        notifications.push(JSON.parse(text) as Notification);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    plugins = pluginFolder();
    for (const file of ['audit-log.mjs', 'webhook-notifier.mjs', 'custom-verb.mjs']) copyFileSync(join(REPO_ROOT, 'examples/plugins', file), join(plugins, file));
    writePlugin(plugins, 'veto.mjs', VETO_PLUGIN);
    writePlugin(plugins, 'crashy.mjs', CRASHY_PLUGIN);
    install = await createTestInstall({
      docker: { host: dockerHost! },
      container: { published_address: '127.0.0.1', max_allowed_running_container_domains: 2, container_memory: 256 },
    });
    const config = install.config as Record<string, unknown>;
    config.plugins = [
      { path: join(plugins, 'audit-log.mjs'), config: { file: join(install.dir, 'audit.jsonl') } },
      { path: join(plugins, 'webhook-notifier.mjs'), config: { url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`, initial_backoff_ms: 50 } },
      // Relative to the configuration file's folder.
      { path: relative(install.dir, join(plugins, 'custom-verb.mjs')), config: { verb: 'INFO', motd: 'be nice' } },
    ];
    install.save();
    serverId = serverIdFor(loadConfig(install.configPath, {}));
    const started = await cli('start', '--web', '--plugin', join(plugins, 'veto.mjs'), '--plugin', join(plugins, 'crashy.mjs'));
    assert.equal(started.code, 0, started.stdout + started.stderr);
  });
  after(async () => {
    await cli('stop');
    install.remove();
    rmSync(plugins, { recursive: true, force: true });
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  it('answers the custom verb over TCP and REST with figures from the server', async () => {
    for (const response of [await (await tcp()).request('INFO'), await rest().request('INFO')]) {
      assert.equal(response.message, 'OK');
      assert.deepEqual(Object.keys(response.data).sort(), ['available', 'motd', 'running_sandboxes', 'uptime']);
      assert.equal(response.data.motd, 'be nice');
      assert.equal(response.data.available, 2);
    }
  });

  it('refuses a vetoed CREATE, leaves no container behind and frees the slot', async () => {
    const set = jsonOf(await cli('call', 'veto.set', '--params', '{"reason": "quota exceeded"}', '--json'));
    assert.deepEqual(set.data.result, { reason: 'quota exceeded' });
    try {
      const created = await (await tcp()).create();
      assert.equal(created.message, 'Refused request (quota exceeded)');
      assert.deepEqual(created.data, {});
      assert.deepEqual(containersOf(serverId, dockerHost!), []);
      assert.equal(await available(), 2);
      assert.deepEqual(jsonOf(await cli('stat', '--json')).data.sessions, []);
      // Appended through a write stream: wait (bounded) for the vetoed sandbox's destroyed line.
      const vetoDeadline = Date.now() + 10_000;
      while (auditLines().at(-1)?.reason !== 'vetoed' && Date.now() < vetoDeadline) await new Promise((r) => setTimeout(r, 50));
      const [made, ended] = auditLines().slice(-2);
      assert.deepEqual([made!.event, ended!.event, ended!.reason], ['created', 'destroyed', 'vetoed']);
      assert.equal(made!.container_id, ended!.container_id);
    } finally {
      await cli('call', 'veto.set', '--params', '{}');
    }
  });

  it('writes created and destroyed lines to the audit file and notifies the webhook', async () => {
    const created = await (await tcp()).create();
    assert.equal(created.message, 'OK', JSON.stringify(created));
    const { container_uuid, client_token } = created.data as Record<string, string>;
    const [containerId] = containersOf(serverId, dockerHost!);
    assert.equal((await rest().destroy(container_uuid, client_token)).message, 'OK');

    // The plugin appends through a write stream: the destroyed line may land just after DESTROY's answer.
    const mineOf = (all: ReturnType<typeof auditLines>) => all.filter((l) => l.container_id === containerId!.slice(0, 12));
    const auditDeadline = Date.now() + 10_000;
    while (mineOf(auditLines()).length < 2 && Date.now() < auditDeadline) await new Promise((r) => setTimeout(r, 50));
    const lines = auditLines();
    const mine = mineOf(lines);
    assert.deepEqual(mine.map((l) => [l.event, l.reason]), [['created', undefined], ['destroyed', 'destroy_request']]);
    assert.equal((mine[0]!.client as { transport: string }).transport, 'tcp');
    assert.equal(JSON.stringify(lines).includes(container_uuid), false, 'a credential reached the audit file');

    const deadline = Date.now() + 10_000;
    while (notifications.filter((n) => n.container_id === containerId!.slice(0, 12)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(notifications.filter((n) => n.container_id === containerId!.slice(0, 12)).map((n) => n.event), ['created_container', 'destroyed_container']);
  });

  it('counts and logs a verb and a hook that throw, naming the plugin, and keeps serving', async () => {
    const errors = async () => jsonOf(await cli('stat', '--json')).data.runtime_errors as number;
    const before = await errors();
    assert.equal((await (await tcp()).request('BOOM')).message, 'Internal error');
    assert.equal((await rest().request('NOPE')).message, 'Bad request (Unhandled verb)');
    assert.equal((await (await tcp()).stat()).message, 'OK');
    assert.equal(await errors(), before + 2);
    const log = readFileSync(join(install.dir, 'log/server.log'), 'utf8');
    assert.match(log, /plugin "crashy" \(plugins\[4\]\): BOOM handler threw: Error: verb exploded/);
    assert.match(log, /plugin "crashy" \(plugins\[4\]\): unhandled_verb hook: Error: hook exploded/);
  });

  it('calls a plugin admin method with call', async () => {
    const tail = jsonOf(await cli('call', 'audit.tail', '--params', '{"lines": 1}', '--json'));
    assert.equal(tail.status, 'OK');
    assert.equal(((tail.data.result as { lines: Array<{ event: string }> }).lines)[0]!.event, 'destroyed');
  });
});

describe('bad plugins stop the start with one line', () => {
  let install: TestInstall;
  let plugins: string;
  const startWith = (...args: string[]) => runCli(['start', '--foreground', '--json', '--config', install.configPath, ...args]);
  const setHello = "export function register(api) { api.server.setRequestHandler('HELLO', () => ({ success: true, message: 'OK', data: {} })); }";

  before(async () => {
    install = await createTestInstall();
    plugins = pluginFolder();
  });
  after(() => {
    install.remove();
    rmSync(plugins, { recursive: true, force: true });
  });

  /**
   * Starts with these plugin arguments; asserts exit 1, one JSON error, and nothing left running or behind.
   * Returns the fault lines: the pre-start check lists load faults (`data.problems`); the daemon reports register faults.
   */
  async function failedStart(...args: string[]): Promise<string[]> {
    const run = await startWith(...args);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const answer = jsonOf(run);
    assert.equal(answer.status, 'ERROR');
    assert.equal(existsSync(join(install.dir, 'run/server.pid')), false);
    assert.equal(existsSync(join(install.dir, 'run/admin.sock')), false);
    if (answer.message.startsWith('check found')) return answer.data.problems as string[];
    assert.match(answer.message, /^cannot start: /);
    return answer.message.replace(/^cannot start: /, '').split('\n');
  }

  it('names a plugin path that does not exist', async () => {
    const path = join(plugins, 'nowhere.mjs');
    assert.deepEqual(await failedStart('--plugin', path), [`plugin "nowhere" (plugins[0]): ${path}: no such file`]);
  });

  it('refuses a plugin that does not load in the daemon itself too (--skip-check)', async () => {
    const path = join(plugins, 'nowhere.mjs');
    assert.deepEqual(await failedStart('--skip-check', '--plugin', path), [`plugin "nowhere" (plugins[0]): ${path}: no such file`]);
  });

  it('names a file that is not a module', async () => {
    const path = writePlugin(plugins, 'readme.mjs', 'This is not JavaScript.');
    const [line, ...rest] = await failedStart('--plugin', path);
    assert.match(line!, /^plugin "readme" \(plugins\[0\]\): \S+readme\.mjs: not a valid ES module \(SyntaxError: [^\n]+\)$/);
    assert.deepEqual(rest, []);
  });

  it('names a module without a register export', async () => {
    const path = writePlugin(plugins, 'empty.mjs', 'export const version = 1;');
    assert.deepEqual(await failedStart('--plugin', path), ['plugin "empty" (plugins[0]): no register export (export function register(api), or a default export being that function)']);
  });

  it('names a plugin whose register throws', async () => {
    const path = writePlugin(plugins, 'thrower.mjs', 'export default async function () { throw new Error("cannot reach the billing API"); }');
    assert.deepEqual(await failedStart('--plugin', path), ['plugin "thrower" (plugins[0]): register() threw: Error: cannot reach the billing API']);
  });

  it('runs the cleanups of the plugins registered before the one that failed', async () => {
    const marker = join(plugins, 'cleaned-up');
    const tidy = writePlugin(plugins, 'tidy.mjs', `import { writeFileSync } from 'node:fs'; export function register() { return () => writeFileSync(${JSON.stringify(marker)}, 'x'); }`);
    const thrower = writePlugin(plugins, 'late-thrower.mjs', 'export function register() { throw new Error("late"); }');
    assert.deepEqual(await failedStart('--plugin', tidy, '--plugin', thrower), ['plugin "late-thrower" (plugins[1]): register() threw: Error: late']);
    assert.equal(existsSync(marker), true);
  });

  it('lists config faults with their key path', async () => {
    const config = install.config as Record<string, unknown>;
    config.plugins = [{ path: join(REPO_ROOT, 'examples/plugins/webhook-notifier.mjs'), config: { url: 42, max_queue: 0 } }];
    install.save();
    try {
      assert.deepEqual((await failedStart()).sort(), [
        'plugins[0].config.max_queue: must be >= 1 (plugin "webhook-notifier")',
        'plugins[0].config.url: must be string (plugin "webhook-notifier")',
      ]);
    } finally {
      delete config.plugins;
      install.save();
    }
  });

  it('names both plugins that set the same verb', async () => {
    const first = writePlugin(plugins, 'hello-a.mjs', setHello);
    const second = writePlugin(plugins, 'hello-b.mjs', setHello);
    assert.deepEqual(await failedStart('--plugin', first, '--plugin', second), ['plugin "hello-b" (plugins[1]): verb HELLO is already set by plugin "hello-a" (plugins[0])']);
  });

  it('refuses a plugin that replaces a built-in verb without saying so', async () => {
    const path = writePlugin(plugins, 'stat.mjs', "export function register(api) { api.server.setRequestHandler('STAT', () => ({ success: true, message: 'OK', data: {} })); }");
    assert.deepEqual(await failedStart('--plugin', path), ['plugin "stat" (plugins[0]): verb STAT is built in; pass { replaceBuiltIn: true } to setRequestHandler to replace it']);
  });

  it('reports a bad plugin from a background start too', async () => {
    // The throwing plugin passes the pre-start check (register() does not run there): the detached daemon reports it.
    const path = writePlugin(plugins, 'bg-thrower.mjs', 'export function register() { throw new Error("not today"); }');
    const run = await runCli(['start', '--json', '--config', install.configPath, '--plugin', path]);
    assert.equal(run.code, 1);
    assert.equal(jsonOf(run).message, 'cannot start: plugin "bg-thrower" (plugins[0]): register() threw: Error: not today');
    assert.equal(existsSync(join(install.dir, 'run/server.pid')), false);
  });

  it('lists plugin problems in start --check without running register()', async () => {
    const marker = join(plugins, 'registered');
    const path = writePlugin(plugins, 'marks.mjs', `import { writeFileSync } from 'node:fs'; export function register() { writeFileSync(${JSON.stringify(marker)}, 'x'); }`);
    const run = await runCli(['start', '--check', '--json', '--config', install.configPath, '--plugin', path, '--plugin', join(plugins, 'nowhere.mjs')]);
    const problems = jsonOf(run).data.problems as string[];
    assert.ok(problems.includes(`plugin "nowhere" (plugins[1]): ${join(plugins, 'nowhere.mjs')}: no such file`), problems.join('\n'));
    assert.equal(problems.some((p) => p.includes('marks')), false);
    assert.equal(existsSync(marker), false);
  });
});

describe('call with a bad request', () => {
  let install: TestInstall;
  before(async () => {
    install = await createTestInstall();
  });
  after(() => install.remove());
  const call = (...args: string[]) => runCli(['call', ...args, '--config', install.configPath]);

  it('names --params that is not JSON in one line', async () => {
    const run = await call('status', '--params', '{oops');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: --params: not valid JSON \([^\n]+\)\n$/);
  });

  it('names --params that is not a JSON object', async () => {
    const run = await call('status', '--params', '[1]', '--json');
    assert.equal(run.code, 1);
    assert.equal(jsonOf(run).message, '--params: must be a JSON object, got [1]');
  });

  it('says the server is not running', async () => {
    const run = await call('status', '--json');
    assert.equal(run.code, 1);
    assert.match(jsonOf(run).message, /^the server is not running/);
  });
});
