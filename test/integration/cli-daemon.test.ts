import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AnweddolHttpClient } from '../../src/client/http-client.js';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { createTestInstall, jsonOf, killLeftoverDaemon, runCli, startForeground, type Foreground, type TestInstall } from '../helpers/cli-runner.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

async function tcpClient(install: TestInstall): Promise<AnweddolTcpClient> {
  return new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 10_000 });
}

function startInstallForeground(install: TestInstall, extra: string[]): Foreground {
  return startForeground(['start', '--foreground', '--config', install.configPath, ...extra]);
}

/** Starts in the foreground, serves one STAT, stops on SIGTERM (exit 0): what it printed and logged on the way is the caller's. */
async function serveOnce(install: TestInstall): Promise<Foreground> {
  const daemon = startInstallForeground(install, ['--json']);
  await daemon.firstLine;
  assert.equal((await (await tcpClient(install)).stat()).message, 'OK');
  daemon.child.kill('SIGTERM');
  assert.equal(await daemon.exit, 0);
  return daemon;
}

describe('start --foreground', () => {
  let install: TestInstall;
  before(async () => {
    install = await createTestInstall();
  });
  after(() => {
    killLeftoverDaemon(join(install.dir, 'run/server.pid'));
    install.remove();
  });

  it('serves TCP, prints one JSON object, and exits 0 on SIGTERM', async () => {
    const daemon = startInstallForeground(install, ['--json']);
    const started = JSON.parse(await daemon.firstLine) as { status: string; data: { pid: number; listeners: Array<{ transport: string; port: number }> } };
    assert.equal(started.status, 'OK');
    assert.equal(started.data.pid, daemon.child.pid);
    assert.deepEqual(started.data.listeners.map((l) => [l.transport, l.port]), [['tcp', install.config.server!.listen_port]]);
    const stat = await (await tcpClient(install)).stat();
    assert.equal(stat.message, 'OK');
    assert.equal(readFileSync(join(install.dir, 'run/server.pid'), 'utf8').trim(), String(daemon.child.pid));
    assert.equal(statSync(join(install.dir, 'run/admin.sock')).mode & 0o777, 0o600);
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exit, 0);
    assert.equal(daemon.output().trim().split('\n').length, 1, daemon.output());
    assert.equal(existsSync(join(install.dir, 'run/server.pid')), false);
    assert.equal(existsSync(join(install.dir, 'run/admin.sock')), false);
  });

  it('logs to stdout and to the log file for humans, and exits 0 on SIGINT', async () => {
    const daemon = startInstallForeground(install, []);
    assert.match(await daemon.firstLine, /^Server started in the foreground \(pid \d+\)/);
    await (await tcpClient(install)).stat();
    daemon.child.kill('SIGINT');
    assert.equal(await daemon.exit, 0);
    assert.match(daemon.output(), /Z INFO listening on 127\.0\.0\.1:\d+ \(tcp\)/);
    assert.match(readFileSync(join(install.dir, 'log/server.log'), 'utf8'), /^\S+Z INFO /m);
  });

  it('survives SIGHUP, reopening its log file at the configured path', async () => {
    const daemon = startInstallForeground(install, ['--json']);
    await daemon.firstLine;
    // Signals right after the start line can land before the daemon listens for them (seen on main too): serve one request first.
    assert.equal((await (await tcpClient(install)).stat()).message, 'OK');
    const logPath = join(install.dir, 'log/server.log');
    renameSync(logPath, `${logPath}.1`);
    daemon.child.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while (!existsSync(logPath) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(readFileSync(logPath, 'utf8'), /INFO SIGHUP: log file reopened/);
    assert.equal((await (await tcpClient(install)).stat()).message, 'OK');
    assert.equal(daemon.child.exitCode, null);
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exit, 0);
  });

  it('warns on stderr and in its log when it listens on 0.0.0.0 with access tokens off', async () => {
    install.config.server!.bind_address = '0.0.0.0';
    install.save();
    try {
      const daemon = await serveOnce(install);
      const warning = /tcp listens on 0\.0\.0\.0:\d+ with access tokens off/;
      assert.match(daemon.stderr(), new RegExp(`^warning: ${warning.source}`, 'm'));
      assert.match(readFileSync(join(install.dir, 'log/server.log'), 'utf8'), new RegExp(`WARN ${warning.source}`));
    } finally {
      install.config.server!.bind_address = '127.0.0.1';
      install.save();
    }
  });

  it('warns on stderr and in its log that btrfs subvolumes escape disk_limit when container.seccomp_profile is null', async () => {
    const saved = install.config.container;
    install.config.container = { ...saved, seccomp_profile: null };
    install.save();
    try {
      const daemon = await serveOnce(install);
      const warning = /container\.seccomp_profile is null: .* can create btrfs subvolumes whose writes escape container\.disk_limit/;
      assert.match(daemon.stderr(), new RegExp(`^warning: ${warning.source}`, 'm'));
      assert.match(readFileSync(join(install.dir, 'log/server.log'), 'utf8'), new RegExp(`WARN ${warning.source}`));
    } finally {
      install.config.container = saved;
      install.save();
    }
  });

  it('refuses to serve nothing', async () => {
    install.config.server!.enable_tcp = false;
    install.save();
    try {
      const run = await runCli(['start', '--foreground', '--json', '--config', install.configPath]);
      assert.equal(run.code, 1);
      assert.match(jsonOf(run).message, /nothing to serve/);
    } finally {
      install.config.server!.enable_tcp = true;
      install.save();
    }
  });
});

describe('daemon lifecycle: start, status, stat, restart, stop', () => {
  let install: TestInstall;
  before(async () => {
    install = await createTestInstall({ web_server: { enable_ssl: true } });
    assert.equal((await runCli(['regen-tls', '--config', install.configPath])).code, 0);
  });
  after(async () => {
    await runCli(['stop', '--config', install.configPath]);
    killLeftoverDaemon(join(install.dir, 'run/server.pid'));
    install.remove();
  });
  const cli = (...args: string[]) => runCli([...args, '--config', install.configPath]);

  it('starts in the background and prints the pid', async () => {
    const run = await cli('start', '--web');
    assert.equal(run.code, 0, run.stderr);
    const pid = Number(/Server started \(pid (\d+)\)/.exec(run.stdout)?.[1]);
    assert.equal(readFileSync(join(install.dir, 'run/server.pid'), 'utf8').trim(), String(pid));
  });

  it('refuses a second start while running', async () => {
    const run = await cli('start', '--json');
    assert.equal(run.code, 1);
    assert.match(jsonOf(run).message, /already running \(pid \d+\)/);
    const check = jsonOf(await cli('start', '--check', '--json'));
    assert.ok((check.data.problems as string[]).some((p) => /^server\.pid_file_path: the server is already running/.test(p)));
  });

  it('serves TCP and HTTPS', async () => {
    assert.equal((await (await tcpClient(install)).stat()).message, 'OK');
    const https = new AnweddolHttpClient({ baseUrl: `https://127.0.0.1:${install.config.web_server!.listen_port as number}`, rejectUnauthorized: false });
    assert.equal((await https.stat()).message, 'OK');
  });

  it('reports status for humans and as JSON', async () => {
    const human = await cli('status');
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^Server is running \(pid \d+, version /);
    assert.match(human.stdout, /tcp +127\.0\.0\.1:\d+/);
    assert.match(human.stdout, /https +127\.0\.0\.1:\d+/);
    const json = jsonOf(await cli('status', '--json'));
    assert.equal(json.data.running, true);
    assert.equal(json.data.sandboxes, 0);
    assert.deepEqual((json.data.backend as { available: boolean }).available, false);
  });

  it('shows the admin view with stat', async () => {
    const json = jsonOf(await cli('stat', '--json'));
    assert.equal(json.status, 'OK');
    assert.deepEqual(json.data.sessions, []);
    assert.ok((json.data.connections_served as number) >= 1);
    assert.deepEqual(json.data.refused_by_client_limit, { max_per_client: 0, create_rate: 0, max_connections_per_client: 0 });
    const human = await cli('stat');
    assert.match(human.stdout, /sessions \(0\):/);
    assert.match(human.stdout, /^refused by per-client limits: max_per_client 0, create_rate 0, max_connections_per_client 0$/m);
  });

  it('sends a protocol STAT with stat --host', async () => {
    const port = String(install.config.server!.listen_port);
    const json = jsonOf(await runCli(['stat', '--host', '127.0.0.1', '--port', port, '--json']));
    assert.equal(json.status, 'OK');
    assert.deepEqual(Object.keys(json.data).sort(), ['available', 'uptime', 'version']);
    const human = await runCli(['stat', '--host', '127.0.0.1', '--port', port]);
    assert.match(human.stdout, /^127\.0\.0\.1:\d+: version \S+, uptime \d+ s, available 6\n$/);
  });

  it('restarts under a new pid, keeping REST on', async () => {
    const before = readFileSync(join(install.dir, 'run/server.pid'), 'utf8').trim();
    const json = jsonOf(await cli('restart', '--json'));
    assert.equal(json.status, 'OK');
    assert.notEqual(String(json.data.pid), before);
    assert.equal((await (await tcpClient(install)).stat()).message, 'OK');
    // Started with --web, so REST comes back too.
    assert.deepEqual((json.data.listeners as Array<{ transport: string }>).map((l) => l.transport), ['tcp', 'https']);
  });

  it('stops and removes its pid file', async () => {
    const run = await cli('stop');
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^stopping the server \(pid \d+\)\.\.\.\nServer stopped\n$/);
    assert.equal(existsSync(join(install.dir, 'run/server.pid')), false);
    assert.equal((await cli('status')).code, 3);
  });

  it('reports why a background start failed', async () => {
    install.config.server!.private_rsa_key_file_path = 'ssl/cert.pem';
    install.config.server!.public_rsa_key_file_path = 'ssl/cert.pem';
    install.save();
    // --skip-check: the pre-start check would name the key first; this is about the detached daemon's own failure.
    const run = await cli('start', '--json', '--skip-check');
    assert.equal(run.code, 1);
    assert.match(jsonOf(run).message, /not a PEM|key/i);
  });
});
