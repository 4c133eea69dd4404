import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkRunAsUser, ignoredKeyWarnings } from '../../../src/daemon/anweddol-compat.js';
import { parseConfig } from '../../../src/daemon/config/config-loader.js';

const ANWEDDOL_CONTAINER_KEYS = `container:
  container_iso_file_path: /etc/anweddol/iso/anweddol_container.iso
  nat_interface_name: virbr0
  domain_type: kvm
  wait_max_tryout: 20
  endpoint_username: endpoint
  endpoint_password: S3cret-endpoint-pw
  endpoint_listen_port: 22
web_server:
  user: anweddol
`;

describe('ignoredKeyWarnings', () => {
  it('gives one line per Anweddol-only key set in the file, naming the key and why it is ignored', () => {
    const warnings = ignoredKeyWarnings(parseConfig(ANWEDDOL_CONTAINER_KEYS, {}, '/'));
    assert.deepEqual(
      warnings.map((w) => w.split(' is ignored: ')[0]),
      [
        'web_server.user',
        'container.container_iso_file_path',
        'container.nat_interface_name',
        'container.domain_type',
        'container.wait_max_tryout',
        'container.endpoint_username',
        'container.endpoint_password',
        'container.endpoint_listen_port',
      ],
    );
    assert.ok(warnings.every((w) => / is ignored: \S.{20,}/.test(w)));
  });

  it('never prints a value (endpoint_password is a password)', () => {
    const warnings = ignoredKeyWarnings(parseConfig(ANWEDDOL_CONTAINER_KEYS, {}, '/')).join('\n');
    assert.doesNotMatch(warnings, /S3cret|virbr0|kvm|anweddol_container\.iso/);
  });

  it('says nothing for a file without those keys', () => {
    assert.deepEqual(ignoredKeyWarnings(parseConfig('{}', {}, '/')), []);
  });

  it('names container.ready_timeout as what replaces wait_max_tryout', () => {
    const line = ignoredKeyWarnings(parseConfig('container:\n  wait_max_tryout: -1\n', {}, '/'))[0]!;
    assert.match(line, /^container\.wait_max_tryout is ignored: .*1-second polls.*container\.ready_timeout/);
  });
});

describe('checkRunAsUser', () => {
  it('accepts no server.user', () => {
    assert.deepEqual(checkRunAsUser(null, { uid: 0, username: 'root' }), { ok: true });
  });

  it('accepts the user the daemon already runs as', () => {
    assert.deepEqual(checkRunAsUser('anweddol', { uid: 998, username: 'anweddol' }), { ok: true });
  });

  it('refuses root with another user named, in one line saying how to start it as that user', () => {
    const verdict = checkRunAsUser('anweddol', { uid: 0, username: 'root' });
    assert.equal(verdict.ok, false);
    const refusal = (verdict as { refusal: string }).refusal;
    assert.equal(refusal.split('\n').length, 1);
    assert.match(refusal, /^server\.user: started as root .*start it as "anweddol" \(systemd: User=anweddol.*or remove server\.user/);
  });

  it('runs a non-root start as its own user and says that server.user is not applied', () => {
    const verdict = checkRunAsUser('anweddol', { uid: 1000, username: 'alice' });
    assert.deepEqual(verdict, {
      ok: true,
      warning: 'server.user "anweddol" is not applied: started as "alice" (uid 1000), not root, so the server runs as "alice"',
    });
  });
});
