import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AnweddolTcpClient, generateClientKeyPair, type ClientKeyPair } from '../../src/client/tcp-client.js';
import { RsaKeyPair } from '../../src/crypto/rsa-key-pair.js';
import { oaepDecrypt, oaepEncrypt } from '../../src/crypto/rsa-oaep.js';
import { SessionCipher } from '../../src/crypto/session-cipher.js';
import { decodeMessageBody, openFramePayload, parseFrameHeader, sealFrame } from '../../src/server/protocol/frame.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { startTcpTestServer, type TcpTestServer } from '../helpers/tcp-test-server.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

describe('conformance with 4096-bit keys on both sides', () => {
  let t: TcpTestServer;
  let serverKey: RsaKeyPair;
  let client: AnweddolTcpClient;
  before(async () => {
    serverKey = await RsaKeyPair.generate(4096);
    t = await startTcpTestServer({ rsaKeyPair: serverKey });
    client = new AnweddolTcpClient({ host: '127.0.0.1', port: t.port, rsaKeyBits: 4096, serverFingerprint: serverKey.fingerprint });
  });
  after(async () => t.stop());

  it('answers STAT through the full key exchange', async () => {
    const response = await client.stat();
    assert.equal(response.message, 'OK');
    assert.equal(response.data.available, 6);
  });

  it('creates then destroys a sandbox over TCP', async () => {
    const created = await client.create();
    assert.equal(created.message, 'OK');
    assert.equal(t.virtualization.sandboxes.size, 1);
    const destroyed = await client.destroy(created.data.container_uuid as string, created.data.client_token as string);
    assert.deepEqual(destroyed, { success: true, message: 'OK', data: {} });
    assert.equal(t.virtualization.sandboxes.size, 0);
  });

  it('sends its public key PEM as SubjectPublicKeyInfo with an 8-byte =-padded length', async () => {
    const peer = await RawPeer.connect(t.port);
    const pem = Buffer.from((await testClientKeyPair()).publicKeyPem);
    assert.equal(await peer.sendClientKey(pem), '1');
    const prefix = (await peer.read(8)).toString('latin1');
    assert.equal(prefix, String(serverKey.publicKeyPem.length).padEnd(8, '='));
    peer.write('1');
    assert.equal((await peer.read(serverKey.publicKeyPem.length)).toString(), serverKey.publicKeyPem);
    peer.destroy();
    await t.idle();
  });

  it('echoes the AES key and IV it received, encrypted to the client key', async () => {
    const clientKey = await generateClientKeyPair(4096);
    const peer = await RawPeer.connect(t.port);
    await peer.sendClientKey(Buffer.from(clientKey.publicKeyPem));
    const key = await peer.receiveServerKey();
    const material = randomBytes(48);
    peer.write(oaepEncrypt(key, material));
    assert.equal((await peer.read(1)).toString(), '1');
    const echoed = await peer.read(512);
    assert.deepEqual(oaepDecrypt(clientKey.privateKey, echoed), material);
    peer.destroy();
    await t.idle();
  });

  it('refuses a request whose server-key fingerprint does not match (client side check)', async () => {
    const wrong = new AnweddolTcpClient({ host: '127.0.0.1', port: t.port, keyPair: await testClientKeyPair(), serverFingerprint: '0'.repeat(64) });
    await assert.rejects(wrong.stat(), /fingerprint mismatch/);
    await t.idle();
  });
});

describe('byte stream handling', () => {
  let t: TcpTestServer;
  let clientKey: ClientKeyPair;
  before(async () => {
    t = await startTcpTestServer();
    clientKey = await testClientKeyPair();
  });
  after(async () => t.stop());

  it('works when every client message is split across many small TCP segments', async () => {
    const peer = await RawPeer.connect(t.port);
    peer.trickle = true;
    const cipher = await peer.handshake(clientKey);
    const response = await peer.exchange(cipher, Buffer.from('{"verb": "STAT", "parameters": {}}'));
    assert.equal(response.message, 'OK');
    peer.destroy();
  });

  it('works when consecutive client messages arrive merged in one segment', async () => {
    const peer = await RawPeer.connect(t.port);
    assert.equal(await peer.sendClientKey(Buffer.from(clientKey.publicKeyPem)), '1');
    const { createPublicKey } = await import('node:crypto');
    const length = Number((await peer.read(8)).toString().replace(/=+$/, ''));
    peer.write('1');
    const serverKey = createPublicKey(await peer.read(length));
    const material = randomBytes(48);
    // Step 8 ack + step 9 ciphertext in one write.
    peer.write(Buffer.concat([Buffer.from('1'), oaepEncrypt(serverKey, material)]));
    assert.equal((await peer.read(1)).toString(), '1');
    const cipher = SessionCipher.fromKeyMaterial(oaepDecrypt(clientKey.privateKey, await peer.read(256)));
    // Step 12 ack + request header in one write.
    const frame = sealFrame(cipher, Buffer.from('{"verb":"STAT","parameters":{}}'));
    peer.write(Buffer.concat([Buffer.from('1'), frame.header]));
    assert.equal((await peer.read(1)).toString(), '1');
    peer.write(frame.payload);
    const n = parseFrameHeader(cipher, await peer.read(16), 65536);
    peer.write('1');
    const response = decodeMessageBody(openFramePayload(cipher, await peer.read(n))) as { message: string };
    assert.equal(response.message, 'OK');
    assert.equal(await peer.readToClose(), '');
  });

  it('closes the connection after exactly one request and response', async () => {
    const peer = await RawPeer.connect(t.port);
    const cipher = await peer.handshake(clientKey);
    await peer.exchange(cipher, Buffer.from('{"verb":"STAT","parameters":{}}'));
    assert.equal(await peer.readToClose(2000), '');
    await t.idle();
  });

  it('sets TCP_NODELAY: a full STAT round trip takes far less than Nagle + delayed ACK would add', async () => {
    const c = await t.client();
    await c.stat();
    const started = performance.now();
    for (let i = 0; i < 5; i++) await c.stat();
    // 12 ping-pong steps at ~40 ms each would be ~500 ms per request without TCP_NODELAY.
    assert.ok((performance.now() - started) / 5 < 150, 'round trip too slow');
  });
});

describe('listener policies', () => {
  it('closes sockets beyond the connection cap at once and serves again when slots free up', async () => {
    const t = await startTcpTestServer({ maxConnections: 2, timeoutSeconds: 5 });
    try {
      const holders = [await RawPeer.connect(t.port), await RawPeer.connect(t.port)];
      while (t.server.getRuntimeStatistics().activeConnections < 2) await new Promise((r) => setTimeout(r, 5));
      const extra = await RawPeer.connect(t.port);
      const started = Date.now();
      extra.write('800=====');
      assert.equal(await extra.readToClose(2000), '');
      assert.ok(Date.now() - started < 1000);
      for (const h of holders) h.destroy();
      await t.idle();
      assert.equal((await (await t.client()).stat()).message, 'OK');
    } finally {
      await t.stop();
    }
  });

  it('closes a filtered address before the key exchange', async () => {
    const t = await startTcpTestServer({ ipFilter: (address) => address !== '127.0.0.1' });
    try {
      const peer = await RawPeer.connect(t.port);
      peer.write('800=====');
      assert.equal(await peer.readToClose(2000), '');
      assert.match(t.logger.text(), /refused by IP filter/);
      assert.equal(t.server.getRuntimeStatistics().connectionsServed, 0);
    } finally {
      await t.stop();
    }
  });

  it('closes the connection when a connection_accepted hook vetoes it', async () => {
    const t = await startTcpTestServer();
    try {
      t.server.on('connection_accepted', (ctx) => ctx.refuse('go away'));
      await assert.rejects((await t.client()).stat());
      await t.idle();
      assert.match(t.logger.text(), /connection refused by hook \(go away\)/);
    } finally {
      await t.stop();
    }
  });

  it('answers Refused request when a client_initialized hook vetoes, without running the verb', async () => {
    const t = await startTcpTestServer();
    try {
      let ran = false;
      t.server.setRequestHandler('PING', () => {
        ran = true;
        return { success: true, message: 'OK', data: {} };
      });
      t.server.on('client_initialized', (ctx) => ctx.refuse('banned'));
      assert.equal((await (await t.client()).request('PING')).message, 'Refused request (banned)');
      assert.equal(ran, false);
      await t.idle();
    } finally {
      await t.stop();
    }
  });

  it('answers a request-hook veto with Refused request, then closes', async () => {
    const t = await startTcpTestServer();
    try {
      t.server.on('request', (ctx) => ctx.refuse('not today'));
      assert.equal((await (await t.client()).stat()).message, 'Refused request (not today)');
      await t.idle();
    } finally {
      await t.stop();
    }
  });

  it('emits connection_accepted, client_initialized and client_closed for each connection', async () => {
    const t = await startTcpTestServer();
    try {
      const seen: string[] = [];
      for (const e of ['connection_accepted', 'client_initialized', 'client_closed'] as const) t.server.on(e, () => void seen.push(e));
      await (await t.client()).stat();
      await t.idle();
      assert.deepEqual(seen, ['connection_accepted', 'client_initialized', 'client_closed']);
      assert.equal(t.server.getRuntimeStatistics().connectionsServed, 1);
    } finally {
      await t.stop();
    }
  });

  it('finishes an in-flight request on stop, then refuses new connections', async () => {
    const t = await startTcpTestServer();
    t.server.setRequestHandler('SLOW', async () => {
      await new Promise((r) => setTimeout(r, 300));
      return { success: true, message: 'OK', data: {} };
    });
    const client = await t.client();
    const pending = client.request('SLOW');
    while (t.server.getRuntimeStatistics().activeConnections === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 100));
    await t.stop();
    assert.equal((await pending).message, 'OK');
    await assert.rejects(client.stat());
  });
});
