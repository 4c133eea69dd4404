import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientKeyOf } from '../../../../src/server/client-limits/client-key.js';

describe('client key', () => {
  it('is the address itself for IPv4, and for IPv4-mapped IPv6', () => {
    assert.equal(clientKeyOf('203.0.113.7', 64), '203.0.113.7');
    assert.equal(clientKeyOf('::ffff:203.0.113.7', 64), '203.0.113.7');
  });

  it('puts every address of one IPv6 /64 under one key', () => {
    const a = clientKeyOf('2001:db8:1:2::1', 64);
    assert.equal(a, '2001:0db8:0001:0002:0000:0000:0000:0000/64');
    assert.equal(clientKeyOf('2001:db8:1:2:ffff:ffff:ffff:ffff', 64), a);
    assert.notEqual(clientKeyOf('2001:db8:1:3::1', 64), a);
  });

  it('keeps whole IPv6 addresses apart with a /128 prefix', () => {
    assert.notEqual(clientKeyOf('2001:db8::1', 128), clientKeyOf('2001:db8::2', 128));
    assert.equal(clientKeyOf('2001:db8::1', 128), '2001:0db8:0000:0000:0000:0000:0000:0001/128');
  });

  it('masks prefixes that do not end on a group boundary', () => {
    assert.equal(clientKeyOf('2001:db8:ffff::', 36), '2001:0db8:f000:0000:0000:0000:0000:0000/36');
  });

  it('gives one key to every spelling of an address (zero runs, case, zone, IPv4 tail)', () => {
    const key = clientKeyOf('2001:db8:0:0:0:0:0:1', 128);
    for (const spelling of ['2001:DB8::1', '2001:0db8:0000::0001', '2001:db8::0.0.0.1']) assert.equal(clientKeyOf(spelling, 128), key, spelling);
    assert.equal(clientKeyOf('fe80::1%eth0', 64), clientKeyOf('fe80::2', 64));
  });
});
