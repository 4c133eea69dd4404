import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { isProcessAlive } from '../../src/daemon/pid-file.js';
import { IGNORED_ANWEDDOL_KEYS, writeAnweddolConfig, type AnweddolInstall } from '../helpers/anweddol-config.js';
import { jsonOf, REPO_ROOT, runCli, startForeground, type CliRun } from '../helpers/cli-runner.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

// The daemons here need no sandbox: Docker is pointed at a socket that does not exist (STAT still answers).
const bin = mkdtempSync(join(tmpdir(), 'anwdlserver-bin-'));
const ANWDLSERVER = join(bin, 'anwdlserver');
symlinkSync(join(REPO_ROOT, 'src/cli/main.ts'), ANWDLSERVER);
after(() => rmSync(bin, { recursive: true, force: true }));

function environment(install: AnweddolInstall): Record<string, string> {
  return { ANWEDDOL_CONFIG: install.configPath, DOCKER_HOST: `unix://${join(install.dir, 'no-docker.sock')}` };
}

/** `anwdlserver ...args` with the install's config found through ANWEDDOL_CONFIG, as a unit file would run it. */
function anwdlserver(install: AnweddolInstall, ...args: string[]): Promise<CliRun> {
  return runCli(args, { entry: ANWDLSERVER, env: environment(install) });
}

async function stat(install: AnweddolInstall): Promise<string> {
  const client = new AnweddolTcpClient({ host: '127.0.0.1', port: install.listenPort, keyPair: await testClientKeyPair(), timeoutMs: 10_000 });
  return (await client.stat()).message;
}

describe('anwdlserver with Anweddol 4.x shipped config.yaml', () => {
  let install: AnweddolInstall;
  before(async () => {
    install = await writeAnweddolConfig();
  });
  after(() => install.remove());

  it('starts with `start -d -y --skip-check`, answers STAT, stops on SIGTERM, and warns once per ignored key', async () => {
    const daemon = startForeground(['start', '-d', '-y', '--skip-check'], { entry: ANWDLSERVER, env: environment(install) });
    try {
      assert.match(await daemon.firstLine, /^Server started in the foreground \(pid \d+\)/);
      assert.equal(await stat(install), 'OK');
    } finally {
      daemon.child.kill('SIGTERM');
    }
    assert.equal(await daemon.exit, 0, daemon.output());
    const log = readFileSync(install.logPath, 'utf8');
    for (const key of IGNORED_ANWEDDOL_KEYS) {
      const lines = log.split('\n').filter((line) => line.includes(` ${key} is ignored: `));
      assert.equal(lines.length, 1, `${key}:\n${log}`);
      assert.match(lines[0]!, / WARN /);
    }
  });
});

describe('anwdlserver start -d --json --enable-stdout-log', () => {
  let install: AnweddolInstall;
  before(async () => {
    install = await writeAnweddolConfig();
  });
  after(() => install.remove());

  it('prints the JSON start report, then copies log lines to stdout', async () => {
    const daemon = startForeground(['start', '-d', '--json', '--enable-stdout-log', '--skip-check'], { entry: ANWDLSERVER, env: environment(install) });
    try {
      assert.equal(JSON.parse(await daemon.firstLine).status, 'OK');
      assert.equal(await stat(install), 'OK');
    } finally {
      daemon.child.kill('SIGTERM');
    }
    assert.equal(await daemon.exit, 0);
    assert.match(daemon.output(), /^\S+Z INFO listening on 127\.0\.0\.1:\d+ \(tcp\)$/m);
  });
});

describe("Anweddol's systemd unit command lines", () => {
  let install: AnweddolInstall;
  before(async () => {
    install = await writeAnweddolConfig();
  });
  after(() => install.remove());

  it('ExecStart `anwdlserver start --json -y` detaches a server that answers STAT', async () => {
    const started = jsonOf(await anwdlserver(install, 'start', '--json', '-y'));
    assert.equal(started.status, 'OK', JSON.stringify(started));
    assert.equal(readFileSync(install.pidPath, 'utf8').trim(), String(started.data.pid));
    assert.equal(await stat(install), 'OK');
  });

  it('ExecStart again with -y replaces the running server', async () => {
    const before = Number(readFileSync(install.pidPath, 'utf8').trim());
    const started = jsonOf(await anwdlserver(install, 'start', '--json', '-y'));
    assert.equal(started.status, 'OK', JSON.stringify(started));
    assert.notEqual(started.data.pid, before);
    assert.equal(isProcessAlive(before), false);
    assert.equal(await stat(install), 'OK');
  });

  it('start --assume-no leaves the running server alone and fails', async () => {
    const pid = Number(readFileSync(install.pidPath, 'utf8').trim());
    const run = await anwdlserver(install, 'start', '--json', '--assume-no');
    assert.equal(run.code, 1);
    assert.match(jsonOf(run).message, new RegExp(`already running \\(pid ${pid}\\)`));
    assert.equal(isProcessAlive(pid), true);
  });

  it('ExecStop `anwdlserver stop --json` stops it and removes the pid file', async () => {
    const pid = Number(readFileSync(install.pidPath, 'utf8').trim());
    const stopped = jsonOf(await anwdlserver(install, 'stop', '--json'));
    assert.deepEqual([stopped.status, stopped.message, stopped.data.pid], ['OK', 'Server stopped', pid]);
    assert.equal(isProcessAlive(pid), false);
    assert.equal(existsSync(install.pidPath), false);
  });
});

describe('anwdlserver management commands', () => {
  let install: AnweddolInstall;
  before(async () => {
    install = await writeAnweddolConfig();
  });
  after(() => install.remove());

  it('start checks the environment first and starts nothing on a problem', async () => {
    const squatter = createServer().listen(install.listenPort, '127.0.0.1');
    await once(squatter, 'listening');
    try {
      const run = await anwdlserver(install, 'start', '--json', '-y');
      assert.equal(run.code, 1);
      const answer = jsonOf(run);
      assert.match(answer.message, /^check found 1 problem, nothing started \(--skip-check starts anyway\)$/);
      assert.match((answer.data.problems as string[])[0]!, /^server\.listen_port: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)$/);
      assert.equal(existsSync(install.pidPath), false);
    } finally {
      squatter.close();
    }
  });

  it('is installed as a second bin of the same program', () => {
    const { bin: bins } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    assert.equal(bins.anwdlserver, bins['anweddol-server']);
  });

  it('shows its own name in help', async () => {
    const run = await anwdlserver(install, '--help');
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^Usage: anwdlserver /);
    assert.doesNotMatch((await anwdlserver(install, 'access-tk', '--help')).stdout, /anweddol-server access-tk/);
  });

  it('access-tk -a --json answers data.entry_id and data.access_token', async () => {
    const added = jsonOf(await anwdlserver(install, 'access-tk', '-a', '--json'));
    assert.equal(added.status, 'OK');
    assert.equal(added.data.entry_id, 1);
    assert.match(added.data.access_token as string, /^\S{32,}$/);
  });

  it('access-tk -l --json answers data.entry_list as [entry_id, creation timestamp, enabled] rows', async () => {
    await anwdlserver(install, 'access-tk', '-a', '--disabled', '--json');
    const listed = jsonOf(await anwdlserver(install, 'access-tk', '-l', '--json'));
    const rows = listed.data.entry_list as Array<[number, number, number]>;
    assert.deepEqual(rows.map(([id, , enabled]) => [id, enabled]), [[1, 1], [2, 0]]);
    assert.ok(rows.every(([, created]) => Number.isInteger(created) && Math.abs(created - Date.now() / 1000) < 600));
  });

  it('access-tk -d ID deletes that entry', async () => {
    assert.equal(jsonOf(await anwdlserver(install, 'access-tk', '-d', '2', '--json')).status, 'OK');
    const listed = jsonOf(await anwdlserver(install, 'access-tk', '-l', '--json'));
    assert.deepEqual((listed.data.entry_list as number[][]).map(([id]) => id), [1]);
  });

  it('regen-rsa -b takes the size in bits', async () => {
    const run = jsonOf(await anwdlserver(install, 'regen-rsa', '-b', '2048', '--json'));
    assert.equal(run.data.bits, 2048);
  });

  it('regen-rsa -b refuses a size that is not 2048, 3072 or 4096', async () => {
    const run = await anwdlserver(install, 'regen-rsa', '-b', '512', '--json');
    assert.equal(run.code, 1);
    assert.match(jsonOf(run).message, /512.*Allowed choices are 2048, 3072, 4096/);
  });
});

describe('server.user', () => {
  it('is refused when started as root with another user named, in one line saying what to do', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const install = await writeAnweddolConfig({ user: 'anweddol' });
    try {
      const run = await anwdlserver(install, 'start', '-d', '-y', '--skip-check', '--json');
      assert.equal(run.code, 1);
      const message = jsonOf(run).message;
      assert.equal(message.split('\n').length, 1);
      assert.match(message, /server\.user: started as root but server\.user is "anweddol".*start it as "anweddol"/);
      assert.equal(existsSync(install.pidPath), false);
      assert.equal(existsSync(join(install.dir, 'run/admin.sock')), false);
    } finally {
      install.remove();
    }
  });

  it('is a problem `start -c` reports as root', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const install = await writeAnweddolConfig({ user: 'anweddol' });
    try {
      const run = await anwdlserver(install, 'start', '-c', '--json');
      assert.equal(run.code, 1);
      assert.ok((jsonOf(run).data.errors_list as string[]).some((p) => p.startsWith('server.user: started as root')));
    } finally {
      install.remove();
    }
  });
});
