import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { MetricsListener } from '../../../src/daemon/metrics/metrics-listener.js';

const source = { scrape: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'x 1\n' }) };

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
