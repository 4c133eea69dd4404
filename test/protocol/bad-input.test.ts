import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ClientKeyPair } from '../../src/client/tcp-client.js';
import { oaepEncrypt } from '../../src/crypto/rsa-oaep.js';
import { sealFrame } from '../../src/server/protocol/frame.js';
import { encodeLengthPrefix } from '../../src/server/protocol/length-prefix.js';
import { craftedRsaPublicKeyPem } from '../helpers/crafted-rsa-key.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { startTcpTestServer, type TcpTestServer } from '../helpers/tcp-test-server.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

let t: TcpTestServer;
let clientKey: ClientKeyPair;

before(async () => {
  t = await startTcpTestServer({ timeoutSeconds: 2, maxFrameSize: 4096 });
  clientKey = await testClientKeyPair();
});
after(async () => t.stop());
beforeEach(() => t.logger.clear());

/** Runs a misbehaving peer, then checks: what it got before the close, one log line naming the state, and that a good client still succeeds. */
async function probe(misbehave: (peer: RawPeer) => Promise<void>, expected: { received: string; state: string; log: RegExp }): Promise<void> {
  const peer = await RawPeer.connect(t.port);
  try {
    await misbehave(peer);
    assert.equal(await peer.readToClose(5000), expected.received);
  } finally {
    peer.destroy();
  }
  await t.idle();
  const lines = t.logger.lines.map((l) => l.message);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, new RegExp(`^client [0-9a-f]{12}: ${expected.state}: `));
  assert.match(lines[0]!, expected.log);
  const response = await (await t.client()).stat();
  assert.equal(response.message, 'OK');
}

const clientPem = () => Buffer.from(clientKey.publicKeyPem, 'ascii');

async function toAesKeyStep(peer: RawPeer) {
  assert.equal(await peer.sendClientKey(clientPem()), '1');
  return peer.receiveServerKey();
}

async function toRequestStep(peer: RawPeer) {
  return peer.handshake(clientKey);
}

describe('bad length prefix', () => {
  it('answers 0 and closes on garbage instead of the length prefix', async () => {
    await probe(async (p) => p.write('hello!!!'), { received: '0', state: 'AwaitingKeyLength', log: /not a padded decimal/ });
  });

  it('answers 0 and closes on a length of 0', async () => {
    await probe(async (p) => p.write('0======='), { received: '0', state: 'AwaitingKeyLength', log: /zero/ });
  });

  it('answers 0 and closes on a negative length', async () => {
    await probe(async (p) => p.write('-800===='), { received: '0', state: 'AwaitingKeyLength', log: /not a padded decimal/ });
  });

  it('answers 0 and closes on a non-numeric length', async () => {
    await probe(async (p) => p.write('8OO====='), { received: '0', state: 'AwaitingKeyLength', log: /not a padded decimal/ });
  });

  it('answers 0 and closes on a length of 10^9 (over the key cap)', async () => {
    await probe(async (p) => p.write('1000000000'), { received: '0', state: 'AwaitingKeyLength', log: /exceeds cap 16384/ });
  });
});

describe('bad client key', () => {
  it('answers 0 and closes on a PEM that is not a key', async () => {
    const fake = Buffer.from(`-----BEGIN PUBLIC KEY-----\n${randomBytes(294).toString('base64')}\n-----END PUBLIC KEY-----\n`);
    await probe(async (p) => assert.equal(await p.sendClientKey(fake), '0'), { received: '', state: 'AwaitingClientKey', log: /does not parse/ });
  });

  it('answers 0 and closes on a truncated PEM', async () => {
    const truncated = clientPem().subarray(0, 300);
    await probe(async (p) => assert.equal(await p.sendClientKey(truncated), '0'), { received: '', state: 'AwaitingClientKey', log: /not a SubjectPublicKeyInfo/ });
  });

  it('answers 0 and closes on an EC key instead of RSA', async () => {
    const ec = Buffer.from(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }).toString());
    await probe(async (p) => assert.equal(await p.sendClientKey(ec), '0'), { received: '', state: 'AwaitingClientKey', log: /ec, not RSA/ });
  });

  it('answers 0 and closes on an RSA key above 8192 bits, before any work with it', async () => {
    const huge = craftedRsaPublicKeyPem(8256);
    await probe(async (p) => assert.equal(await p.sendClientKey(huge), '0'), { received: '', state: 'AwaitingClientKey', log: /size 8256 is out of range/ });
  });

  it('answers 0 and closes on an RSA key with a public exponent of 2^32 or more', async () => {
    const slow = craftedRsaPublicKeyPem(4096, (1n << 4000n) + 1n);
    await probe(async (p) => assert.equal(await p.sendClientKey(slow), '0'), { received: '', state: 'AwaitingClientKey', log: /exponent is out of range/ });
  });

  it('never logs the key material it refused', async () => {
    const pem = clientPem();
    const peer = await RawPeer.connect(t.port);
    await peer.sendClientKey(Buffer.concat([pem.subarray(0, 200), Buffer.from('!')]));
    await peer.readToClose();
    await t.idle();
    assert.ok(!t.logger.text().includes(pem.subarray(30, 90).toString()));
  });
});

describe('bad key exchange', () => {
  it('closes without reading further when the peer does not acknowledge the server key length', async () => {
    await probe(
      async (p) => {
        assert.equal(await p.sendClientKey(clientPem()), '1');
        await p.read(8);
        p.write('x');
      },
      { received: '', state: 'AwaitingServerKeyLengthAck', log: /expected acknowledgement/ },
    );
  });

  it('answers 0 and closes on an OAEP ciphertext that fails to decrypt', async () => {
    await probe(
      async (p) => {
        await toAesKeyStep(p);
        p.write(randomBytes(256));
      },
      { received: '0', state: 'AwaitingAesKey', log: /does not decrypt/ },
    );
  });

  it('answers 0 when the ciphertext is too long (the first 256 bytes do not decrypt)', async () => {
    await probe(
      async (p) => {
        const serverKey = await toAesKeyStep(p);
        p.write(Buffer.concat([Buffer.alloc(1, 0), oaepEncrypt(serverKey, randomBytes(48))]));
      },
      { received: '0', state: 'AwaitingAesKey', log: /does not decrypt/ },
    );
  });

  it('closes at the deadline when the ciphertext is too short', async () => {
    await probe(
      async (p) => {
        const serverKey = await toAesKeyStep(p);
        p.write(oaepEncrypt(serverKey, randomBytes(48)).subarray(0, 100));
      },
      { received: '', state: 'AwaitingAesKey', log: /deadline of 2000 ms exceeded/ },
    );
  });

  it('answers 0 and closes when the decrypted AES blob is not 48 bytes', async () => {
    await probe(
      async (p) => {
        const serverKey = await toAesKeyStep(p);
        p.write(oaepEncrypt(serverKey, randomBytes(32)));
      },
      { received: '0', state: 'AwaitingAesKey', log: /32 bytes, not 48/ },
    );
  });
});

describe('bad frames', () => {
  it('answers 0 and closes on a frame header that does not decrypt', async () => {
    await probe(
      async (p) => {
        await toRequestStep(p);
        // Valid padding is possible by chance, but then the text is not a decimal: refused either way.
        p.write(randomBytes(16));
      },
      { received: '0', state: 'AwaitingRequestHeader', log: /frame header (does not decrypt|is not a decimal)/ },
    );
  });

  it('answers 0 and closes on a frame header that is not a number', async () => {
    await probe(
      async (p) => {
        const cipher = await toRequestStep(p);
        p.write(cipher.encrypt(Buffer.from('sixty-four')));
      },
      { received: '0', state: 'AwaitingRequestHeader', log: /not a decimal/ },
    );
  });

  it('answers 0 and closes on a frame larger than the cap', async () => {
    await probe(
      async (p) => {
        const cipher = await toRequestStep(p);
        p.write(cipher.encrypt(Buffer.from('4112')));
      },
      { received: '0', state: 'AwaitingRequestHeader', log: /exceeds cap 4096/ },
    );
  });

  it('closes when the payload does not decrypt under the session key', async () => {
    await probe(
      async (p) => {
        const cipher = await toRequestStep(p);
        p.write(cipher.encrypt(Buffer.from('48')));
        assert.equal((await p.read(1)).toString(), '1');
        // One data block then a full padding block; flipping the first block's last byte turns the
        // final padding byte into 0x00, which PKCS#7 always rejects (random bytes would pass ~1/256).
        const ciphertext = cipher.encrypt(Buffer.alloc(16, 0x41));
        ciphertext[15] = ciphertext[15]! ^ 0x10;
        p.write(Buffer.concat([ciphertext, randomBytes(16)]));
      },
      { received: '', state: 'AwaitingRequestBody', log: /payload does not decrypt/ },
    );
  });
});

describe('bad request bodies', () => {
  async function answerTo(body: Buffer) {
    const peer = await RawPeer.connect(t.port);
    try {
      const cipher = await peer.handshake(clientKey);
      return await peer.exchange(cipher, body);
    } finally {
      await peer.readToClose();
      peer.destroy();
      await t.idle();
    }
  }

  for (const [what, body, reason] of [
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'message body is not UTF-8'],
    ['not JSON', Buffer.from('{"verb": "STAT", "parameters": {'), 'message body is not JSON'],
    ['JSON but not an object', Buffer.from('["STAT", {}]'), 'message body is not a JSON object'],
  ] as const) {
    it(`answers Bad request to a body that is ${what}`, async () => {
      assert.deepEqual(await answerTo(body), { success: false, message: `Bad request (${reason})`, data: {} });
      assert.equal(t.logger.lines.length, 1);
      assert.equal((await (await t.client()).stat()).message, 'OK');
    });
  }

  for (const [what, request] of [
    ['a lowercase verb', { verb: 'stat', parameters: {} }],
    ['missing parameters', { verb: 'STAT' }],
    ['a uuid without a token', { verb: 'DESTROY', parameters: { container_uuid: '6f1c0a8e-1b2c-4d3e-8f40-0123456789ab' } }],
    ['a 254-char token', { verb: 'DESTROY', parameters: { container_uuid: '6f1c0a8e-1b2c-4d3e-8f40-0123456789ab', client_token: 'x'.repeat(254) } }],
  ] as const) {
    it(`answers Bad request to a request with ${what}`, async () => {
      const response = await answerTo(Buffer.from(JSON.stringify(request)));
      assert.equal(response.success, false);
      assert.match(response.message, /^Bad request \(.+\)$/);
      assert.equal(t.logger.lines.length, 1);
      assert.equal((await (await t.client()).stat()).message, 'OK');
    });
  }
});

describe('misbehaving peers', () => {
  it('closes a peer that connects and says nothing at the deadline', async () => {
    await probe(async () => {}, { received: '', state: 'AwaitingKeyLength', log: /deadline of 2000 ms exceeded/ });
  });

  it('closes a peer that stops half-way through the handshake at the deadline', async () => {
    await probe(
      async (p) => {
        assert.equal(await p.sendClientKey(clientPem()), '1');
        await p.read(8);
      },
      { received: '', state: 'AwaitingServerKeyLengthAck', log: /deadline/ },
    );
  });

  it('logs one line and frees the connection when a peer hangs up half-way through the handshake', async () => {
    const peer = await RawPeer.connect(t.port);
    peer.write(encodeLengthPrefix(clientPem().length));
    await peer.read(1);
    peer.write(clientPem().subarray(0, 100));
    peer.destroy();
    await t.idle();
    assert.equal(t.logger.lines.length, 1);
    assert.match(t.logger.lines[0]!.message, /AwaitingClientKey: (peer closed|connection closed)/);
    assert.equal((await (await t.client()).stat()).message, 'OK');
  });

  it('survives a peer that disconnects before reading the response', async () => {
    const peer = await RawPeer.connect(t.port);
    const cipher = await peer.handshake(clientKey);
    const frame = sealFrame(cipher, Buffer.from('{"verb":"STAT","parameters":{}}'));
    peer.write(frame.header);
    await peer.read(1);
    peer.write(frame.payload);
    peer.destroy();
    await t.idle();
    assert.equal(t.logger.lines.length, 1);
    assert.match(t.logger.lines[0]!.message, /AwaitingResponseAck/);
    assert.equal((await (await t.client()).stat()).message, 'OK');
  });

  it('destroys the sandbox of a CREATE whose response the peer never took', async () => {
    const peer = await RawPeer.connect(t.port);
    const cipher = await peer.handshake(clientKey);
    const frame = sealFrame(cipher, Buffer.from('{"verb":"CREATE","parameters":{}}'));
    peer.write(frame.header);
    await peer.read(1);
    peer.write(frame.payload);
    peer.destroy();
    await t.idle();
    assert.equal(t.virtualization.sandboxes.size, 0);
    assert.equal(t.virtualization.destroyed.length, 1);
    assert.equal(t.server.getRuntimeStatistics().sessions, 0);
  });

  it('closes a peer that floods bytes the protocol never asked for while its request is handled', async () => {
    t.server.setRequestHandler('SLOW', async () => {
      await new Promise((r) => setTimeout(r, 200));
      return { success: true, message: 'OK', data: {} };
    });
    await probe(
      async (p) => {
        const cipher = await toRequestStep(p);
            const frame = sealFrame(cipher, Buffer.from('{"verb":"SLOW","parameters":{}}'));
        p.write(frame.header);
        await p.read(1);
        p.write(frame.payload);
        p.write(Buffer.alloc(64 * 1024, 0x41));
      },
      { received: '', state: 'AwaitingResponseAck', log: /more than the protocol allows/ },
    );
  });
});
