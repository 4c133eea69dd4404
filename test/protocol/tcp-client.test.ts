import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AnweddolClientError, AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { scriptedPeer, type ScriptedPeer } from '../helpers/scripted-peer.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

describe('AnweddolTcpClient against a misbehaving server', () => {
  let refusing: ScriptedPeer;
  let silent: ScriptedPeer;
  let hangingUp: ScriptedPeer;
  before(async () => {
    refusing = await scriptedPeer((socket) => socket.once('data', () => socket.end('0')));
    silent = await scriptedPeer(() => {});
    hangingUp = await scriptedPeer((socket) => socket.once('data', () => socket.destroy()));
  });
  after(async () => {
    await Promise.all([refusing, silent, hangingUp].map((peer) => peer.close()));
  });

  const client = async (port: number, timeoutMs = 2000) => new AnweddolTcpClient({ host: '127.0.0.1', port, keyPair: await testClientKeyPair(), timeoutMs });

  it('rejects with a clear error when the server refuses the key length', async () => {
    await assert.rejects((await client(refusing.port)).stat(), (error: Error) => error instanceof AnweddolClientError && /refused the key length/.test(error.message));
  });

  it('gives up after its timeout when the server says nothing', async () => {
    const started = Date.now();
    await assert.rejects((await client(silent.port, 300)).stat(), /no answer within 300 ms/);
    assert.ok(Date.now() - started < 2000);
  });

  it('rejects when the server hangs up mid-handshake', async () => {
    await assert.rejects((await client(hangingUp.port)).stat(), /closed the connection|connection error/);
  });

  it('rejects when nothing listens on the port', async () => {
    const peer = await scriptedPeer(() => {});
    const port = peer.port;
    await peer.close();
    await assert.rejects((await client(port)).stat(), /ECONNREFUSED/);
  });
});
