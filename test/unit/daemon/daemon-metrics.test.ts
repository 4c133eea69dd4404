import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { DaemonMetrics } from '../../../src/daemon/metrics/daemon-metrics.js';
import { parseExposition } from '../../helpers/prometheus-text.js';
import { startRestServer, type RestServer } from '../../helpers/rest-server.js';

const running: Array<{ metrics: DaemonMetrics; rest: RestServer }> = [];
after(async () => {
  for (const { metrics, rest } of running) {
    metrics.close();
    await rest.close();
  }
});

async function start(serverOptions: Parameters<typeof startRestServer>[0] = {}) {
  const rest = await startRestServer(serverOptions);
  const metrics = new DaemonMetrics(rest.server);
  running.push({ metrics, rest });
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const wanted = Object.entries(labels);
    const samples = parseExposition((await metrics.scrape()).body);
    return samples.find((s) => s.name === name && Object.keys(s.labels).length === wanted.length && wanted.every(([k, v]) => s.labels[k] === v))?.value;
  };
  return { rest, metrics, value };
}

describe('DaemonMetrics', () => {
  it('counts REST requests under their transport', async () => {
    const { rest, value } = await start();
    await rest.client.request('STAT');
    assert.equal(await value('anweddol_requests_total', { verb: 'STAT', result: 'OK', transport: 'http' }), 1);
  });

  it('counts a request without a valid access token as an access_token refusal', async () => {
    const { rest, value } = await start({ serverOptions: { accessTokens: { verify: () => false } } });
    assert.equal((await rest.client.request('STAT', { access_token: 'wrong' })).message, 'Bad authentication (Invalid access token)');
    assert.equal(await value('anweddol_refusals_total', { reason: 'access_token' }), 1);
    assert.equal(await value('anweddol_requests_total', { verb: 'STAT', result: 'Bad authentication', transport: 'http' }), 1);
  });

  /** Holds one TCP connection (counted live), opens a second and waits until the server closed it. */
  async function holdOneThenBeRefused(rest: RestServer, value: (name: string) => Promise<number | undefined>): Promise<void> {
    const port = rest.server.tcpAddress()!.port;
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
        socket.once('error', reject);
      });
    const held = await open();
    try {
      while ((await value('anweddol_connections_active')) !== 1) await new Promise((r) => setTimeout(r, 10));
      const refused = await open();
      await new Promise((resolve) => refused.once('close', resolve));
    } finally {
      held.destroy();
    }
  }

  it('counts a socket over the connection cap as a connection_cap refusal', async () => {
    const { rest, value } = await start({ serverOptions: { maxConnections: 1 } });
    await holdOneThenBeRefused(rest, value);
    assert.equal(await value('anweddol_refusals_total', { reason: 'connection_cap' }), 1);
  });

  it('counts a per-client limit refusal under the limit name', async () => {
    const { rest, value } = await start({ serverOptions: { maxConnectionsPerClient: 1 } });
    await holdOneThenBeRefused(rest, value);
    assert.equal(await value('anweddol_refusals_total', { reason: 'max_connections_per_client' }), 1);
    assert.equal(await value('anweddol_refusals_total', { reason: 'connection_cap' }), 0);
  });

  it('shows the capacity as +Inf when sandboxes have no limit', async () => {
    const { metrics } = await start({ serverOptions: { maxSandboxes: null } });
    assert.match((await metrics.scrape()).body, /^anweddol_capacity \+Inf$/m);
  });

  it('stops counting once closed', async () => {
    const { rest, metrics, value } = await start();
    metrics.close();
    await rest.client.request('STAT');
    assert.equal(await value('anweddol_requests_total', { verb: 'STAT', result: 'OK', transport: 'http' }), undefined);
  });
});
