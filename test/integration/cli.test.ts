import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';

const COMMANDS = ['start', 'stop', 'restart', 'status', 'stat', 'access-tk', 'regen-rsa', 'regen-tls', 'build-image', 'seccomp-profile', 'version'];

describe('anweddol-server CLI (no daemon)', () => {
  let install: TestInstall;
  before(async () => {
    install = await createTestInstall();
  });
  after(() => install.remove());
  const withConfig = (...args: string[]) => [...args, '--config', install.configPath];

  describe('version and help', () => {
    it('prints the version for humans', async () => {
      const run = await runCli(['version']);
      assert.equal(run.code, 0);
      assert.match(run.stdout, /^anweddol-server \d+\.\d+\.\d+\n$/);
    });

    it('prints the version as one JSON object', async () => {
      const out = jsonOf(await runCli(['version', '--json']));
      assert.equal(out.status, 'OK');
      assert.match(String(out.data.version), /^\d+\.\d+\.\d+/);
    });

    for (const command of COMMANDS) {
      it(`has a manual page for ${command}`, async () => {
        const run = await runCli([command, '--help']);
        assert.equal(run.code, 0);
        for (const section of ['Usage: anweddol-server', 'DESCRIPTION', 'EXIT STATUS', '--json']) assert.ok(run.stdout.includes(section), `${command}: ${section}`);
      });
    }

    it('answers an unknown command with one JSON error object and exit 1', async () => {
      const run = await runCli(['frobnicate', '--json']);
      assert.equal(run.code, 1);
      assert.deepEqual(jsonOf(run), { status: 'ERROR', message: "unknown command 'frobnicate'", data: {} });
    });
  });

  describe('configuration errors', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['an unknown key', 'container:\n  foo: 1\n', /^container\.foo: unknown key$/],
      ['a wrong type', 'container:\n  container_memory: "1G"\n', /^container\.container_memory: must be an integer ≥ 64 \(MiB\), got "1G"$/],
      ['a value out of range', 'server:\n  listen_port: 0\n', /^server\.listen_port: must be a port number \(1–65535\), got 0$/],
      ['bad YAML', 'server: [\n', /invalid YAML at line \d+/],
    ];
    for (const [what, yaml, expected] of cases) {
      it(`reports ${what} in one line, for humans and in JSON`, async () => {
        const file = join(install.dir, 'bad.yaml');
        writeFileSync(file, yaml);
        const human = await runCli(['status', '--config', file]);
        assert.equal(human.code, 1);
        const lines = human.stderr.trim().split('\n');
        assert.equal(lines.length, 1, human.stderr);
        assert.match(lines[0]!.replace(/^error: /, ''), expected);
        const json = jsonOf(await runCli(['status', '--json', '--config', file]));
        assert.equal(json.status, 'ERROR');
        assert.match(json.message, expected);
        assert.ok(Array.isArray(json.data.problems));
      });
    }

    it('names the missing file', async () => {
      const run = await runCli(['status', '--config', '/nonexistent/anweddol.conf.yaml']);
      assert.equal(run.code, 1);
      assert.equal(run.stderr, 'error: /nonexistent/anweddol.conf.yaml: cannot read configuration file (no such file)\n');
    });

    it('finds the file through ANWEDDOL_CONFIG', async () => {
      const run = await runCli(['status', '--json'], { env: { ANWEDDOL_CONFIG: install.configPath } });
      assert.equal(jsonOf(run).message, 'Server is not running');
    });
  });

  describe('access-tk', () => {
    it('adds, lists, disables, enables and deletes a token', async () => {
      const added = jsonOf(await runCli(withConfig('access-tk', '--add', '--json')));
      assert.equal(added.status, 'OK');
      const token = String(added.data.access_token);
      assert.match(token, /^[0-9a-zA-Z_-]{124}$/);
      const id = String(added.data.entry_id);

      const listed = jsonOf(await runCli(withConfig('access-tk', '--list', '--json')));
      const entries = listed.data.entries as Array<{ id: number; enabled: boolean }>;
      assert.deepEqual(entries.find((e) => String(e.id) === id)?.enabled, true);
      assert.ok(!JSON.stringify(listed).includes(token));

      assert.equal(jsonOf(await runCli(withConfig('access-tk', '--disable', id, '--json'))).status, 'OK');
      const afterDisable = jsonOf(await runCli(withConfig('access-tk', '--list', '--json'))).data.entries as Array<{ id: number; enabled: boolean }>;
      assert.equal(afterDisable.find((e) => String(e.id) === id)?.enabled, false);
      assert.equal(jsonOf(await runCli(withConfig('access-tk', '--enable', id, '--json'))).status, 'OK');
      assert.equal(jsonOf(await runCli(withConfig('access-tk', '--delete', id, '--json'))).status, 'OK');
      const afterDelete = jsonOf(await runCli(withConfig('access-tk', '--list', '--json'))).data.entries as Array<{ id: number }>;
      assert.equal(afterDelete.some((e) => String(e.id) === id), false);
    });

    it('creates a disabled token with --disabled and prints it for humans once', async () => {
      const run = await runCli(withConfig('access-tk', '--add', '--disabled'));
      assert.equal(run.code, 0);
      assert.match(run.stdout, /token: +[0-9a-zA-Z_-]{124}\n/);
      assert.match(run.stdout, /enabled: +false/);
      const list = await runCli(withConfig('access-tk', '--list'));
      assert.match(list.stdout, /\tdisabled\n/);
    });

    it('stores only the hash of the token in the database file', async () => {
      const token = String(jsonOf(await runCli(withConfig('access-tk', '--add', '--json'))).data.access_token);
      const database = readFileSync(join(install.dir, 'db/anweddol.db'));
      assert.equal(database.includes(token), false);
      assert.equal(database.includes(createHash('sha256').update(token).digest('hex')), true);
    });

    it('fails with exit 1 on an unknown entry id', async () => {
      const run = await runCli(withConfig('access-tk', '--delete', '9999', '--json'));
      assert.equal(run.code, 1);
      assert.equal(jsonOf(run).message, 'entry 9999 does not exist');
    });

    it('fails when given no action', async () => {
      const run = await runCli(withConfig('access-tk'));
      assert.equal(run.code, 1);
      assert.match(run.stderr, /nothing to do/);
    });
  });

  describe('regen-rsa and regen-tls', () => {
    it('writes a new RSA key pair and prints its fingerprint', async () => {
      const out = jsonOf(await runCli(withConfig('regen-rsa', '--json')));
      assert.equal(out.status, 'OK');
      const publicPem = readFileSync(join(install.dir, 'rsa/public.pem'));
      const der = createPublicKey(publicPem).export({ type: 'spki', format: 'der' });
      assert.equal(out.data.fingerprint, createHash('sha256').update(der).digest('hex'));
      assert.equal(out.data.bits, 2048);
      assert.equal(statSync(join(install.dir, 'rsa/private.pem')).mode & 0o777, 0o600);
    });

    it('prints the fingerprint for humans and changes the key each time', async () => {
      const before = readFileSync(join(install.dir, 'rsa/public.pem'), 'utf8');
      const run = await runCli(withConfig('regen-rsa'));
      assert.equal(run.code, 0);
      assert.match(run.stdout, /SHA-256 fingerprint: [0-9a-f]{64}/);
      assert.notEqual(readFileSync(join(install.dir, 'rsa/public.pem'), 'utf8'), before);
    });

    it('writes a self-signed certificate at the web_server ssl paths', async () => {
      const out = jsonOf(await runCli(withConfig('regen-tls', '--json')));
      assert.equal(out.status, 'OK');
      const cert = new X509Certificate(readFileSync(join(install.dir, 'ssl/cert.pem')));
      assert.equal(cert.fingerprint256.replace(/:/g, '').toLowerCase(), out.data.fingerprint);
      assert.equal(statSync(join(install.dir, 'ssl/key.pem')).mode & 0o777, 0o600);
      const human = await runCli(withConfig('regen-tls', '--host', 'sandbox.test'));
      assert.equal(human.code, 0);
      assert.match(new X509Certificate(readFileSync(join(install.dir, 'ssl/cert.pem'))).subjectAltName ?? '', /DNS:sandbox\.test/);
    });
  });

  describe('with no daemon running', () => {
    it('status exits 3 and says so', async () => {
      const human = await runCli(withConfig('status'));
      assert.equal(human.code, 3);
      assert.equal(human.stdout, 'Server is not running\n');
      const json = await runCli(withConfig('status', '--json'));
      assert.equal(json.code, 3);
      assert.deepEqual(jsonOf(json), { status: 'OK', message: 'Server is not running', data: { running: false } });
    });

    it('stop succeeds and reports nothing was running', async () => {
      const run = await runCli(withConfig('stop', '--json'));
      assert.equal(run.code, 0);
      assert.equal(jsonOf(run).data.was_running, false);
    });

    it('stat fails with exit 1', async () => {
      const run = await runCli(withConfig('stat', '--json'));
      assert.equal(run.code, 1);
      assert.match(jsonOf(run).message, /not running/);
    });
  });

  describe('start --check', () => {
    let busy: Server;
    before(async () => {
      busy = createServer();
      await new Promise<void>((resolve) => busy.listen(install.config.server!.listen_port as number, '127.0.0.1', resolve));
    });
    after(() => new Promise<void>((resolve) => busy.close(() => resolve())));

    it('lists every problem (busy port, unreachable Docker) and exits 1', async () => {
      const run = await runCli(withConfig('start', '--check', '--json'));
      assert.equal(run.code, 1);
      const out = jsonOf(run);
      const problems = out.data.problems as string[];
      assert.ok(problems.some((p) => p.startsWith('server.listen_port: cannot listen on 127.0.0.1:')), problems.join('\n'));
      assert.ok(problems.some((p) => p.startsWith('docker.host: Docker is not reachable')), problems.join('\n'));
    });

    it('lists the problems for humans', async () => {
      const run = await runCli(withConfig('start', '--check', '--web'));
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^error: check found \d+ problems\n {2}- /);
    });
  });
});
