import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IpFilter } from '../../../src/server/ip-filter.js';

describe('IpFilter', () => {
  it('allows everyone with the default [any] allow list', () => {
    const filter = new IpFilter({ allowed: ['any'], denied: [] });
    assert.equal(filter.isAllowed('203.0.113.9'), true);
    assert.equal(filter.isAllowed('2001:db8::1'), true);
  });

  it('allows only listed addresses and ranges', () => {
    const filter = new IpFilter({ allowed: ['127.0.0.1', '10.0.0.0/8'], denied: [] });
    assert.equal(filter.isAllowed('127.0.0.1'), true);
    assert.equal(filter.isAllowed('10.200.3.4'), true);
    assert.equal(filter.isAllowed('11.0.0.1'), false);
  });

  it('lets the deny list win over the allow list', () => {
    const filter = new IpFilter({ allowed: ['any'], denied: ['10.1.0.0/16'] });
    assert.equal(filter.isAllowed('10.1.2.3'), false);
    assert.equal(filter.isAllowed('10.2.2.3'), true);
  });

  it('denies everyone when the deny list holds any', () => {
    assert.equal(new IpFilter({ allowed: ['any'], denied: ['any'] }).isAllowed('127.0.0.1'), false);
  });

  it('matches IPv6 addresses and ranges', () => {
    const filter = new IpFilter({ allowed: ['::1', '2001:db8::/32'], denied: ['2001:db8:dead::/48'] });
    assert.equal(filter.isAllowed('::1'), true);
    assert.equal(filter.isAllowed('2001:db8:1::5'), true);
    assert.equal(filter.isAllowed('2001:db8:dead::5'), false);
    assert.equal(filter.isAllowed('2001:db9::1'), false);
  });

  it('treats an IPv4-mapped IPv6 address as its IPv4 address', () => {
    const filter = new IpFilter({ allowed: ['10.0.0.0/8'], denied: ['10.9.9.9'] });
    assert.equal(filter.isAllowed('::ffff:10.0.0.1'), true);
    assert.equal(filter.isAllowed('::FFFF:10.9.9.9'), false);
  });

  it('refuses something that is not an address', () => {
    assert.equal(new IpFilter({ allowed: ['any'], denied: [] }).isAllowed('not-an-ip'), false);
  });

  it('rejects an invalid entry when built', () => {
    assert.throws(() => new IpFilter({ allowed: ['10.0.0.0/x'], denied: [] }), /invalid allowed entry/);
    assert.throws(() => new IpFilter({ allowed: [], denied: ['example.com'] }), /invalid denied entry/);
  });

  it('rejects a prefix longer than the address family allows, naming the entry', () => {
    assert.throws(() => new IpFilter({ allowed: ['10.0.0.0/33'], denied: [] }), /invalid allowed entry "10.0.0.0\/33"/);
    assert.throws(() => new IpFilter({ allowed: ['::1/129'], denied: [] }), /invalid allowed entry/);
  });

  it('reads an IPv4-mapped range as the IPv4 range it covers', () => {
    const filter = new IpFilter({ allowed: ['::ffff:10.0.0.0/104'], denied: [] });
    assert.equal(filter.isAllowed('10.1.2.3'), true);
    assert.equal(filter.isAllowed('11.1.2.3'), false);
  });
});
