// Which upstream name servers dockerd gives sandboxes, from resolv.conf texts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOCKER_DEFAULT_RESOLVERS, engineResolvers, parseNameservers } from '../../../src/virtualization/egress/engine-resolvers.js';

const none = () => undefined;

describe('engineResolvers', () => {
  it('reads the nameserver lines in order, ignoring comments and other options', () => {
    assert.deepEqual(parseNameservers('# x\nsearch lan\nnameserver 10.255.255.53\n  nameserver 1.1.1.1\noptions ndots:0\n;nameserver 9.9.9.9\n'), [
      '10.255.255.53',
      '1.1.1.1',
    ]);
  });

  it('keeps a private upstream resolver as it is', () => {
    assert.deepEqual(engineResolvers('nameserver 10.255.255.53\n', none), ['10.255.255.53']);
  });

  it("follows systemd-resolved's stub to the real list", () => {
    assert.deepEqual(engineResolvers('nameserver 127.0.0.53\n', () => 'nameserver 192.168.1.1\nnameserver 127.0.0.1\n'), ['192.168.1.1']);
  });

  it("falls back to dockerd's defaults when only loopback servers are left", () => {
    assert.deepEqual(engineResolvers('nameserver 127.0.0.1\nnameserver ::1\n', none), DOCKER_DEFAULT_RESOLVERS);
    assert.deepEqual(engineResolvers('', none), DOCKER_DEFAULT_RESOLVERS);
  });
});
