// Thousands of random and mutated sessions against one server while a well-behaved client keeps succeeding.
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ClientKeyPair } from '../../src/client/tcp-client.js';
import type { RsaKeyPair } from '../../src/crypto/rsa-key-pair.js';
import { oaepEncrypt } from '../../src/crypto/rsa-oaep.js';
import { SessionCipher } from '../../src/crypto/session-cipher.js';
import { sealFrame } from '../../src/server/protocol/frame.js';
import { encodeLengthPrefix } from '../../src/server/protocol/length-prefix.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { startTcpTestServer, type TcpTestServer } from '../helpers/tcp-test-server.js';
import { testClientKeyPair, testServerKeyPair } from '../helpers/test-keys.js';

const SESSIONS = 3000;
const CONCURRENCY = 48;
const STEP_TIMEOUT_MS = 150;
const BUDGET_MS = 45_000;

interface Step {
  send: Buffer;
  /** Bytes a correct server sends back after this step. */
  expect: number;
}

/** The client→server messages of one correct session, precomputed (the server echoes our AES material). */
function correctScript(serverKey: RsaKeyPair, clientKey: ClientKeyPair, body: Buffer): Step[] {
  const pem = Buffer.from(clientKey.publicKeyPem);
  const material = randomBytes(48);
  const cipher = SessionCipher.fromKeyMaterial(material);
  const frame = sealFrame(cipher, body);
  const clientBytes = (clientKey.privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  return [
    { send: encodeLengthPrefix(pem.length), expect: 1 },
    { send: pem, expect: 1 + 8 },
    { send: Buffer.from('1'), expect: serverKey.publicKeyPem.length },
    { send: Buffer.from('1'), expect: 0 },
    { send: oaepEncrypt(createPublicKey(serverKey.publicKeyPem), material), expect: 1 + clientBytes },
    { send: Buffer.from('1'), expect: 0 },
    { send: frame.header, expect: 1 },
    { send: frame.payload, expect: 16 },
    { send: Buffer.from('1'), expect: 1 },
  ];
}

function mutate(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  switch (randomInt(6)) {
    case 0: {
      if (copy.length === 0) return randomBytes(1);
      const i = randomInt(copy.length);
      copy[i] = copy[i]! ^ (1 << randomInt(8));
      return copy;
    }
    case 1:
      return copy.subarray(0, randomInt(Math.max(1, copy.length)));
    case 2:
      return Buffer.concat([copy, randomBytes(randomInt(1, 64))]);
    case 3:
      return randomBytes(copy.length);
    case 4:
      return Buffer.alloc(copy.length, copy.length > 0 ? copy[0]! : 0x30);
    default:
      return Buffer.from(String(randomInt(-99999, 99999999)).padEnd(8, '=').slice(0, 8));
  }
}

const BODIES = [
  '{"verb":"STAT","parameters":{}}',
  '{"verb":"stat","parameters":{}}',
  '{"verb":"DESTROY","parameters":{"container_uuid":"6f1c0a8e-1b2c-4d3e-8f40-0123456789ab","client_token":"' + 'a'.repeat(255) + '"}}',
  '{"verb":"CREATE","parameters":{}}',
  '[]',
  '{"verb":',
  '\u00ff\u00fe',
];

async function runSession(port: number, script: Step[] | undefined): Promise<void> {
  let peer: RawPeer;
  try {
    peer = await RawPeer.connect(port);
  } catch {
    return;
  }
  try {
    if (script === undefined) {
      // Pure noise: a random prefix-shaped or random blob, then whatever the server says.
      peer.write(randomInt(2) === 0 ? randomBytes(randomInt(1, 64)) : Buffer.from(`${randomInt(-5, 20000)}`.padEnd(8, '=')));
      await peer.read(1, STEP_TIMEOUT_MS).catch(() => undefined);
      return;
    }
    const mutateAt = randomInt(script.length);
    const hangUpAfter = randomInt(10) === 0 ? randomInt(script.length) : -1;
    for (let i = 0; i < script.length; i++) {
      const step = script[i]!;
      peer.write(i === mutateAt ? mutate(step.send) : step.send);
      if (i === hangUpAfter) return;
      if (step.expect > 0) await peer.read(step.expect, STEP_TIMEOUT_MS);
    }
  } catch {
    // Refusals, closes and timeouts are the expected outcomes of a mutated session.
  } finally {
    peer.destroy();
  }
}

describe('session fuzzing', () => {
  let t: TcpTestServer;
  before(async () => {
    // Fuzzed sessions hang up on their own (STEP_TIMEOUT_MS); the deadline only needs to spare the good client on a busy machine.
    t = await startTcpTestServer({ timeoutSeconds: 5, maxSandboxes: null });
  });
  after(async () => t.stop());

  it('survives thousands of random and mutated sessions while a good client keeps succeeding, leaving no connection open', async () => {
    const serverKey = await testServerKeyPair();
    const clientKey = await testClientKeyPair();
    const started = Date.now();
    let done = 0;
    let stop = false;

    const goodResults: string[] = [];
    const good = (async () => {
      const client = await t.client();
      while (!stop) goodResults.push(await client.stat().then((r) => r.message, (error: Error) => `error: ${error.message}`));
    })();

    const worker = async () => {
      while (done < SESSIONS && Date.now() - started < BUDGET_MS) {
        done++;
        const script = randomInt(4) === 0 ? undefined : correctScript(serverKey, clientKey, Buffer.from(BODIES[randomInt(BODIES.length)]!, 'latin1'));
        await runSession(t.port, script);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    stop = true;
    await good;

    assert.ok(done >= 1000, `only ${done} sessions ran within the budget`);
    assert.ok(goodResults.length > 0);
    assert.deepEqual(new Set(goodResults), new Set(['OK']), goodResults.filter((r) => r !== 'OK').join('\n'));
    await t.idle(10_000);
    const stats = t.server.getRuntimeStatistics();
    assert.equal(stats.activeConnections, 0);
    assert.equal(await t.server.tcpConnectionCount(), 0);
    assert.equal(stats.runtimeErrors, 0);
    assert.ok(!t.logger.lines.some((l) => l.level === 'error'), t.logger.lines.filter((l) => l.level === 'error').map((l) => l.message).join('\n'));
    // Mutated CREATEs whose response was never taken must not leave sandboxes behind.
    assert.equal(t.virtualization.sandboxes.size, stats.sessions);
    console.log(`# fuzz: ${done} sessions, ${goodResults.length} good STATs, ${stats.connectionsServed} connections, ${stats.sessions} live sessions, ${Date.now() - started} ms`);
  });
});
