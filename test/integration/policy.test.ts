import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AnweddolDatabase } from '../../src/database/database.js';
import { AccessTokenStore } from '../../src/database/access-token-store.js';
import { IpFilter } from '../../src/server/ip-filter.js';
import { startRestServer, type RestServer } from '../helpers/rest-server.js';

function withFilter(allowed: string[], denied: string[]) {
  const filter = new IpFilter({ allowed, denied });
  return { ipFilter: (address: string) => filter.isAllowed(address) };
}

describe('IP filter policy', () => {
  describe('when 127.0.0.1 is denied', () => {
    let rest: RestServer;
    before(async () => {
      rest = await startRestServer({ serverOptions: withFilter(['any'], ['127.0.0.0/8']) });
    });
    after(() => rest.close());

    it('closes a TCP client before the key exchange', async () => {
      const client = await rest.tcpClient();
      await assert.rejects(client.stat());
    });

    it('answers a REST client Refused request', async () => {
      const { status, body } = await rest.client.send('GET', '/stat');
      assert.equal(status, 200);
      assert.deepEqual(body, { success: false, message: 'Refused request', data: {} });
    });

    it('answers a REST client Refused request on the welcome path too', async () => {
      const { status, body } = await rest.client.send('GET', '/');
      assert.equal(status, 200);
      assert.deepEqual(body, { success: false, message: 'Refused request', data: {} });
    });
  });

  describe('when only 127.0.0.1 is allowed', () => {
    let rest: RestServer;
    before(async () => {
      rest = await startRestServer({ serverOptions: withFilter(['127.0.0.1'], []) });
    });
    after(() => rest.close());

    it('serves a TCP client from 127.0.0.1', async () => {
      assert.equal((await (await rest.tcpClient()).stat()).message, 'OK');
    });

    it('serves a REST client from 127.0.0.1', async () => {
      assert.equal((await rest.client.stat()).message, 'OK');
    });
  });

  describe('when only another network is allowed', () => {
    let rest: RestServer;
    before(async () => {
      rest = await startRestServer({ serverOptions: withFilter(['10.0.0.0/8', '::1'], []) });
    });
    after(() => rest.close());

    it('refuses 127.0.0.1 on both transports', async () => {
      await assert.rejects((await rest.tcpClient()).stat());
      assert.equal((await rest.client.stat()).message, 'Refused request');
    });
  });
});

describe('IP filter policy on IPv6 and IPv4-mapped peers', () => {
  it('matches a peer on an IPv4-mapped IPv6 socket against IPv4 entries', async () => {
    const rest = await startRestServer({ bindAddress: '::ffff:127.0.0.1', serverOptions: withFilter(['any'], ['127.0.0.1']) });
    try {
      await assert.rejects((await rest.tcpClient()).stat());
      assert.equal((await rest.client.stat()).message, 'Refused request');
    } finally {
      await rest.close();
    }
  });

  it('allows ::1 when listed and refuses it when its range is denied', async () => {
    const allowed = await startRestServer({ bindAddress: '::1', serverOptions: withFilter(['::1'], []) });
    try {
      assert.equal((await (await allowed.tcpClient()).stat()).message, 'OK');
      assert.equal((await allowed.client.stat()).message, 'OK');
    } finally {
      await allowed.close();
    }
    const denied = await startRestServer({ bindAddress: '::1', serverOptions: withFilter(['any'], ['::/96', '::1/128']) });
    try {
      await assert.rejects((await denied.tcpClient()).stat());
      assert.equal((await denied.client.stat()).message, 'Refused request');
    } finally {
      await denied.close();
    }
  });
});

describe('access token policy', () => {
  let rest: RestServer;
  let database: AnweddolDatabase;
  let store: AccessTokenStore;
  let token: string;
  let disabledToken: string;
  before(async () => {
    database = new AnweddolDatabase(':memory:');
    store = new AccessTokenStore(database);
    token = store.add().token;
    disabledToken = store.add({ enabled: false }).token;
    rest = await startRestServer({ serverOptions: { accessTokens: store } });
  });
  after(async () => {
    await rest.close();
    database.close();
  });

  for (const transport of ['tcp', 'http'] as const) {
    const call = async (parameters: Record<string, unknown>) =>
      transport === 'tcp' ? (await rest.tcpClient()).request('STAT', parameters) : rest.client.request('STAT', parameters);

    it(`requires a token over ${transport}`, async () => {
      assert.equal((await call({})).message, 'Bad request (Access token is required)');
    });

    it(`refuses an unknown token over ${transport}`, async () => {
      assert.equal((await call({ access_token: 'x'.repeat(124) })).message, 'Bad authentication (Invalid access token)');
    });

    it(`refuses a disabled token over ${transport}`, async () => {
      assert.equal((await call({ access_token: disabledToken })).message, 'Bad authentication (Invalid access token)');
    });

    it(`accepts an enabled token over ${transport}`, async () => {
      assert.equal((await call({ access_token: token })).message, 'OK');
    });
  }

  it('sees a token disabled while the server runs', async () => {
    const { entry, token: fresh } = store.add();
    assert.equal((await rest.client.request('STAT', { access_token: fresh })).message, 'OK');
    store.setEnabled(entry.id, false);
    assert.equal((await rest.client.request('STAT', { access_token: fresh })).message, 'Bad authentication (Invalid access token)');
  });
});
