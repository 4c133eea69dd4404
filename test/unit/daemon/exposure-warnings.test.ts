import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../../src/daemon/config/config-loader.js';
import { exposureWarnings, isLoopbackAddress } from '../../../src/daemon/exposure-warnings.js';

function config(changes: { tcp?: string; web?: string; tokens?: boolean }) {
  const c = defaultConfig();
  if (changes.tcp !== undefined) c.server.bind_address = changes.tcp;
  if (changes.web !== undefined) c.web_server.bind_address = changes.web;
  c.access_token.enabled = changes.tokens ?? false;
  return c;
}

describe('exposure warnings at start', () => {
  it('treats 127.0.0.0/8, ::1 and IPv4-mapped loopback as loopback, and the wildcards as not', () => {
    for (const address of ['127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(address), true, address);
    for (const address of ['0.0.0.0', '::', '10.1.2.3', '::ffff:10.1.2.3', 'fe80::1']) assert.equal(isLoopbackAddress(address), false, address);
  });

  it('warns about a TCP listener on 0.0.0.0 with access tokens off, naming the fix', () => {
    const [warning, ...rest] = exposureWarnings(config({ tcp: '0.0.0.0' }), { web: false });
    assert.equal(rest.length, 0);
    assert.match(warning!, /^tcp listens on 0\.0\.0\.0:6150 with access tokens off: .*access_token\.enabled: true/);
  });

  it('warns about REST on :: only when REST is served', () => {
    assert.deepEqual(exposureWarnings(config({ tcp: '127.0.0.1', web: '::' }), { web: false }), []);
    assert.match(exposureWarnings(config({ tcp: '127.0.0.1', web: '::' }), { web: true })[0]!, /^http listens on \[::\]:8080 /);
  });

  it('says nothing when access tokens are on', () => {
    assert.deepEqual(exposureWarnings(config({ tcp: '0.0.0.0', web: '0.0.0.0', tokens: true }), { web: true }), []);
  });

  it('warns about metrics on a non-loopback address, access tokens or not', () => {
    const c = config({ tokens: true });
    c.metrics.bind_address = '::';
    assert.deepEqual(exposureWarnings(c, { web: false }), [
      'metrics listen on [::]:9150 without authentication: anyone who reaches it reads them (bind metrics.bind_address to 127.0.0.1, or filter the port)',
    ]);
    c.metrics.enabled = false;
    assert.deepEqual(exposureWarnings(c, { web: false }), []);
  });

  it('says nothing for loopback listeners', () => {
    assert.deepEqual(exposureWarnings(config({ tcp: '127.0.0.1', web: '::1' }), { web: true }), []);
  });
});
