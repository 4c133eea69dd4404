import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { MetricsListener, isLoopbackAddress } from '../../../src/daemon/metrics/metrics-listener.js';

const source = { scrape: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'x 1\n' }) };

describe('isLoopbackAddress', () => {
  it('takes 127.0.0.0/8, ::1 and their IPv4-mapped form for loopback', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) assert.equal(isLoopbackAddress(address), true, address);
  });

  it('takes the wildcard and every other address for exposed', () => {
    for (const address of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.5', '::ffff:10.0.0.1', 'fe80::1']) assert.equal(isLoopbackAddress(address), false, address);
  });
});

describe('MetricsListener', () => {
  it('names the config key when its port is taken, and leaves nothing listening', async () => {
    const squatter = createServer().listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const { port } = squatter.address() as { port: number };
    try {
      const listener = new MetricsListener({ source, bindAddress: '127.0.0.1', port });
      await assert.rejects(listener.start(), /^Error: metrics listener cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\); change metrics\.listen_port/);
      assert.throws(() => listener.address(), /not listening/);
    } finally {
      squatter.close();
    }
  });

  it('serves GET /metrics with the source content type, uncached', async () => {
    const listener = new MetricsListener({ source, bindAddress: '127.0.0.1', port: 0 });
    await listener.start();
    try {
      const response = await fetch(listener.url());
      assert.equal(await response.text(), 'x 1\n');
      assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(response.headers.get('cache-control'), 'no-store');
    } finally {
      await listener.stop();
    }
  });
});
