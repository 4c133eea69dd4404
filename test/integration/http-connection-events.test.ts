import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startRestServer, type RestServer } from '../helpers/rest-server.js';
import { until } from '../helpers/until.js';

interface Seen {
  event: string;
  transport: string;
  state?: string;
}

for (const tls of [false, true]) {
  const transport = tls ? 'https' : 'http';
  describe(`connection events and accounting over ${transport.toUpperCase()}`, () => {
    let rest: RestServer;
    let seen: Seen[] = [];
    let veto: string | undefined;
    before(async () => {
      rest = await startRestServer({ tls });
      rest.server.on('connection_accepted', (ctx) => {
        seen.push({ event: ctx.event, transport: ctx.client.transport });
        return veto === undefined ? undefined : ctx.refuse(veto);
      });
      rest.server.on('client_closed', (ctx) => void seen.push({ event: ctx.event, transport: ctx.client.transport, state: ctx.state }));
      rest.server.on('request', (ctx: { event: string; client: { transport: string } }) => void seen.push({ event: ctx.event, transport: ctx.client.transport }));
    });
    beforeEach(() => {
      seen = [];
      veto = undefined;
    });
    after(() => rest.close());

    it('emits connection_accepted before the request and client_closed after the response', async () => {
      assert.equal((await rest.client.stat()).message, 'OK');
      // client_closed fires once the response is written, just after the client got it.
      await until(() => seen.some((s) => s.event === 'client_closed'));
      assert.deepEqual(seen, [
        { event: 'connection_accepted', transport },
        { event: 'request', transport },
        { event: 'client_closed', transport, state: 'Responded' },
      ]);
    });

    it('counts each request in connectionsServed', async () => {
      const before = rest.server.getRuntimeStatistics().connectionsServed;
      await rest.client.stat();
      await rest.client.send('POST', '/stat', '{"not json');
      assert.equal(rest.server.getRuntimeStatistics().connectionsServed, before + 2);
    });

    it('counts TCP and REST clients in the same total', async () => {
      const before = rest.server.getRuntimeStatistics().connectionsServed;
      assert.equal((await (await rest.tcpClient()).stat()).message, 'OK');
      assert.equal((await rest.client.stat()).message, 'OK');
      assert.equal(rest.server.getRuntimeStatistics().connectionsServed, before + 2);
    });

    it('answers Refused request when a connection_accepted hook vetoes, without dispatching', async () => {
      veto = 'maintenance';
      const { status, body } = await rest.client.send('GET', '/stat');
      assert.equal(status, 200);
      assert.deepEqual(body, { success: false, message: 'Refused request (maintenance)', data: {} });
      await until(() => seen.some((s) => s.event === 'client_closed'));
      assert.deepEqual(seen, [
        { event: 'connection_accepted', transport },
        { event: 'client_closed', transport, state: 'Refused' },
      ]);
    });

    it('emits client_closed for a malformed body too', async () => {
      await rest.client.send('POST', '/stat', '{"not json');
      await until(() => seen.some((s) => s.event === 'client_closed'));
      assert.deepEqual(seen.map((s) => s.event), ['connection_accepted', 'client_closed']);
    });
  });
}

describe('REST client refused by the IP filter', () => {
  let rest: RestServer;
  const seen: string[] = [];
  before(async () => {
    rest = await startRestServer({ serverOptions: { ipFilter: () => false } });
    rest.server.on('connection_accepted', (ctx) => void seen.push(ctx.event));
  });
  after(() => rest.close());

  it('is neither announced nor counted, as on TCP', async () => {
    assert.equal((await rest.client.stat()).message, 'Refused request');
    assert.deepEqual(seen, []);
    assert.equal(rest.server.getRuntimeStatistics().connectionsServed, 0);
  });
});

describe('REST client leaving before its response', () => {
  let rest: RestServer;
  const closed: string[] = [];
  before(async () => {
    rest = await startRestServer();
    rest.server.setRequestHandler('SLOW', async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { success: true, message: 'OK', data: {} };
    });
    rest.server.on('client_closed', (ctx) => void closed.push(ctx.state));
  });
  after(() => rest.close());

  it('emits client_closed in state Disconnected', async () => {
    const { port } = rest.listener.address();
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    await until(() => closed.length > 0);
    assert.deepEqual(closed, ['Disconnected']);
  });
});
