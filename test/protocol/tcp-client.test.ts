import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AnweddolClientError, AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

/** A scripted fake server on 127.0.0.1: `behave` decides what each connection gets. */
async function fakeServer(behave: (socket: Socket) => void): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    behave(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

async function closeServer(fake: { server: Server; sockets: Set<Socket> }): Promise<void> {
  for (const socket of fake.sockets) socket.destroy();
  await new Promise((resolve) => fake.server.close(resolve));
}

describe('AnweddolTcpClient against a misbehaving server', () => {
  let refusing: Awaited<ReturnType<typeof fakeServer>>;
  let silent: Awaited<ReturnType<typeof fakeServer>>;
  let hangingUp: Awaited<ReturnType<typeof fakeServer>>;
  before(async () => {
    refusing = await fakeServer((socket) => socket.once('data', () => socket.end('0')));
    silent = await fakeServer(() => {});
    hangingUp = await fakeServer((socket) => socket.once('data', () => socket.destroy()));
  });
  after(async () => {
    await Promise.all([refusing, silent, hangingUp].map(closeServer));
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
    const fake = await fakeServer(() => {});
    const port = fake.port;
    await closeServer(fake);
    await assert.rejects((await client(port)).stat(), /ECONNREFUSED/);
  });
});
