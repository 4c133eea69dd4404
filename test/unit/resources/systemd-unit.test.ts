import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../helpers/cli-runner.js';

/** `[Service]` settings of the shipped unit: key → every value given (systemd keys may repeat). */
function serviceSettings(): Map<string, string[]> {
  const text = readFileSync(`${REPO_ROOT}resources/anweddol-server.service`, 'utf8');
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== 'Service' || eq === -1) continue;
    const key = line.slice(0, eq).trim();
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return settings;
}

/** The signal a `kill` command line sends: `kill` alone sends SIGTERM. */
function signalOfKill(command: string): string {
  const argv = command.replace(/^[-@:+!]+/, '').split(/\s+/);
  assert.match(argv[0]!, /(^|\/)kill$/, `ExecReload runs ${argv[0]}, not kill: its effect cannot be checked`);
  const options = argv.slice(1).filter((a) => a.startsWith('-'));
  if (options.length === 0) return 'TERM';
  const flag = options[0]!;
  const name = flag === '-s' || flag === '--signal' ? argv[argv.indexOf(flag) + 1]! : flag.slice(1);
  return name.toUpperCase().replace(/^SIG/, '');
}

describe('the systemd unit', () => {
  it('has no ExecReload that can deliver SIGTERM (or any signal but SIGHUP)', () => {
    for (const command of serviceSettings().get('ExecReload') ?? []) {
      assert.ok(['HUP', '1'].includes(signalOfKill(command)), `ExecReload=${command} does not send SIGHUP`);
    }
  });

  it('reads a bare kill as SIGTERM, so a reload written that way fails the check above', () => {
    assert.equal(signalOfKill('/bin/kill $MAINPID'), 'TERM');
    assert.equal(signalOfKill('/bin/kill -s TERM $MAINPID'), 'TERM');
    assert.equal(signalOfKill('/bin/kill -15 $MAINPID'), '15');
  });

  it('grants CAP_NET_ADMIN as an ambient capability, and bounds the service to it', () => {
    const settings = serviceSettings();
    const set = (key: string) => new Set((settings.get(key) ?? []).flatMap((v) => v.split(/\s+/)));
    assert.deepEqual([...set('AmbientCapabilities')], ['CAP_NET_ADMIN']);
    assert.deepEqual([...set('CapabilityBoundingSet')], ['CAP_NET_ADMIN']);
    assert.deepEqual(settings.get('NoNewPrivileges'), ['true']);
  });
});
