// `fl train` output: plain lines on a pipe, a progress bar (rounds, accuracy, ETA) on a terminal (run under script(1)'s pty).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { removeNetworkIfAny } from '../helpers/docker-sandbox.js';
import { createTestInstall, REPO_ROOT, runCli, type TestInstall } from '../helpers/cli-runner.js';

const dockerHost = process.env.DOCKER_HOST;
/** A sandbox network of its own: another test's egress rules on a shared bridge would cut the FL agents off. */
const NETWORK = `anw-fl-progress-${process.pid}`;
const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));
// eslint-disable-next-line no-control-regex
const TERMINAL_CONTROL = /\r|\x1b\[/;

/** The CLI under a pseudo-terminal: script(1) gives it a tty as stdout; everything it drew comes back. */
function runUnderPty(args: string[]): Promise<{ code: number | null; output: string }> {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: REPO_ROOT, env: { ...process.env, ANWEDDOL_CONFIG: '', COLUMNS: '120' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('fl train progress', { skip: dockerHost?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  let install: TestInstall;
  const train = ['fl', 'train', '--clients', '2', '--rounds', '2', '--dataset', DIGITS, '--local-epochs', '1', '--round-timeout', '60'];

  before(async () => {
    install = await createTestInstall({
      docker: { host: dockerHost! },
      container: { network_name: NETWORK, published_address: '127.0.0.1', max_allowed_running_container_domains: 2, container_memory: 512 },
      fl: { enabled: true },
    });
    const start = await runCli(['start', '--config', install.configPath]);
    assert.equal(start.code, 0, start.stderr.slice(-2000));
  });

  after(async () => {
    await runCli(['stop', '--config', install.configPath]);
    install.remove();
    removeNetworkIfAny(NETWORK);
  });

  it('prints plain lines, one per round, when stdout is not a terminal', { timeout: 300_000 }, async () => {
    const run = await runCli([...train, '--config', install.configPath], { timeoutMs: 300_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, TERMINAL_CONTROL);
    const rounds = run.stdout.split('\n').filter((l) => /^round \d+: accuracy/.test(l));
    assert.equal(rounds.length, 2);
  });

  it('draws a bar with rounds, accuracy and ETA on a terminal', { timeout: 300_000 }, async () => {
    const run = await runUnderPty([...train, '--config', install.configPath]);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, TERMINAL_CONTROL);
    assert.match(run.output, /rounds \|[█░]+\| 2\/2 · accuracy \d+\.\d\d % · ETA /);
    assert.match(run.output, /training [0-9a-f-]{36} finished/);
  });
});
