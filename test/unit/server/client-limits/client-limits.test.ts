import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hmacSha256Hex } from '../../../../src/crypto/hash.js';
import { ClientLimits, createClientLimits, type ClientLimitsOptions } from '../../../../src/server/client-limits/client-limits.js';
import { clientInfo as peer } from '../../../../src/server/client-info.js';
import { MemoryLogger } from '../../../helpers/memory-logger.js';

const ID_KEY = Buffer.alloc(32, 1);
const client = (address: string, port: number, transport: 'tcp' | 'http') => peer(address, port, transport, ID_KEY);

function limits(overrides: Partial<ClientLimitsOptions> = {}) {
  let now = 0;
  const logger = new MemoryLogger();
  const l = new ClientLimits({
    maxSandboxesPerClient: 2,
    createRate: { count: 2, periodMs: 60_000 },
    maxConnectionsPerClient: 2,
    ipv6PrefixLength: 64,
    digestKey: Buffer.alloc(32, 7),
    logger,
    clock: () => now,
    ...overrides,
  });
  return { l, logger, advance: (ms: number) => void (now += ms) };
}

const alice = client('198.51.100.1', 40000, 'tcp');
const bob = client('198.51.100.2', 40000, 'http');

describe('per-client limits', () => {
  it('refuses a third CREATE token within the period with Refused request (create_rate)', () => {
    const { l } = limits();
    l.takeCreateToken(alice);
    l.takeCreateToken(alice);
    assert.throws(() => l.takeCreateToken(alice), { message: 'Refused request (create_rate)' });
  });

  it('keeps one bucket per client', () => {
    const { l } = limits();
    l.takeCreateToken(alice);
    l.takeCreateToken(alice);
    assert.doesNotThrow(() => l.takeCreateToken(bob));
  });

  it('gives CREATE tokens back as time passes', () => {
    const { l, advance } = limits();
    l.takeCreateToken(alice);
    l.takeCreateToken(alice);
    advance(30_000);
    assert.doesNotThrow(() => l.takeCreateToken(alice));
  });

  it('has no CREATE rate when none is set', () => {
    const { l } = limits({ createRate: null });
    for (let i = 0; i < 100; i++) l.takeCreateToken(alice);
  });

  it('caps open connections per client across transports, and frees them on release', () => {
    const { l } = limits();
    const first = l.tryOpenConnection(alice)!;
    assert.ok(l.tryOpenConnection(client('198.51.100.1', 40001, 'http')));
    assert.equal(l.tryOpenConnection(alice), undefined);
    assert.ok(l.tryOpenConnection(bob));
    first();
    assert.ok(l.tryOpenConnection(alice));
  });

  it('counts every refusal but logs a limit once per client and minute', () => {
    const { l, logger, advance } = limits();
    for (let i = 0; i < 5; i++) l.refusal('max_per_client', alice);
    l.refusal('max_per_client', bob);
    l.refusal('create_rate', alice);
    assert.deepEqual(l.refusals(), { max_per_client: 6, create_rate: 1, max_connections_per_client: 0 });
    assert.deepEqual(logger.lines.map((line) => line.message), [
      `client ${alice.id}: refused by the per-client limit max_per_client (logged once a minute per client)`,
      `client ${bob.id}: refused by the per-client limit max_per_client (logged once a minute per client)`,
      `client ${alice.id}: refused by the per-client limit create_rate (logged once a minute per client)`,
    ]);
    advance(60_000);
    l.refusal('max_per_client', alice);
    assert.equal(logger.lines.length, 4);
  });

  it('never logs the client address', () => {
    const { l, logger } = limits();
    l.refusal('create_rate', alice);
    assert.ok(!logger.text().includes('198.51.100.1'));
  });

  it('treats the addresses of one IPv6 /64 as one client', () => {
    const { l } = limits();
    l.takeCreateToken(client('2001:db8:1:2::1', 1, 'tcp'));
    l.takeCreateToken(client('2001:db8:1:2::2', 1, 'tcp'));
    assert.throws(() => l.takeCreateToken(client('2001:db8:1:2::3', 1, 'tcp')), /create_rate/);
    assert.doesNotThrow(() => l.takeCreateToken(client('2001:db8:1:3::1', 1, 'tcp')));
  });

  it('digests a client as a keyed HMAC: 64 hex, stable, depends on the key, never the address', () => {
    const { l } = limits();
    const digest = l.digestOf('198.51.100.1');
    assert.match(digest, /^[0-9a-f]{64}$/);
    assert.equal(l.digestOf('::ffff:198.51.100.1'), digest);
    assert.notEqual(l.digestOf('198.51.100.2'), digest);
    assert.notEqual(limits({ digestKey: Buffer.alloc(32, 8) }).l.digestOf('198.51.100.1'), digest);
  });

  it('refuses bad server options with a RangeError naming the option', () => {
    const base = { maxSandboxesPerClient: 2, createRate: '10/min', maxConnectionsPerClient: 32, ipv6ClientPrefixLength: 64, clientIdKey: ID_KEY, logger: new MemoryLogger() };
    assert.throws(() => createClientLimits({ ...base, createRate: '10 a minute' }), { name: 'RangeError', message: /^createRate: "10 a minute" is not a rate/ });
    assert.throws(() => createClientLimits({ ...base, maxSandboxesPerClient: 0 }), RangeError);
    assert.throws(() => createClientLimits({ ...base, maxConnectionsPerClient: 1.5 }), RangeError);
    assert.throws(() => createClientLimits({ ...base, ipv6ClientPrefixLength: 129 }), /ipv6ClientPrefixLength/);
    assert.doesNotThrow(() => createClientLimits({ ...base, createRate: null, maxSandboxesPerClient: null, maxConnectionsPerClient: null }));
  });

  it('keys session digests apart from log ids, under the install key', () => {
    const make = (key: Buffer) =>
      createClientLimits({ maxSandboxesPerClient: 2, createRate: null, maxConnectionsPerClient: null, ipv6ClientPrefixLength: 64, clientIdKey: key, logger: new MemoryLogger() });
    const digest = make(ID_KEY).digestOf('198.51.100.1');
    assert.equal(make(ID_KEY).digestOf('198.51.100.1'), digest);
    assert.notEqual(make(Buffer.alloc(32, 2)).digestOf('198.51.100.1'), digest);
    assert.notEqual(digest, hmacSha256Hex(ID_KEY, '198.51.100.1'));
  });
});
