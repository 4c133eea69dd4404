// TcpForwarder over real loopback sockets: piping, half-close, backpressure, the connection cap, failures, and a clean stop.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TcpForwarder } from '../../../../src/server/port-forwarding/tcp-forwarder.js';

const open: Array<{ close(): unknown }> = [];
// Newest first: clients, then forwarders, then the targets (a server's close waits for its connections).
after(async () => {
  for (const thing of open.reverse()) await thing.close();
});

/** A target server on 127.0.0.1 whose connection handler the test writes. */
async function target(onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  open.push({ close: () => new Promise((resolve) => server.close(resolve)) });
  return { server, port: (server.address() as AddressInfo).port };
}

/** A port nothing listens on (bound then released). */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function forwarderTo(
  port: number,
  options: { maxConnections?: number; maxConnectionsPerSource?: number; onConnectionError?: (error: Error) => void } = {},
): Promise<TcpForwarder> {
  const forwarder = new TcpForwarder({
    listenAddress: '127.0.0.1',
    listenPort: await closedPort(),
    target: { host: '127.0.0.1', port },
    maxConnections: options.maxConnections ?? 8,
    ...(options.maxConnectionsPerSource === undefined ? {} : { maxConnectionsPerSource: options.maxConnectionsPerSource }),
    onConnectionError: options.onConnectionError,
  });
  await forwarder.start();
  open.push({ close: () => forwarder.stop() });
  return forwarder;
}

/** A connection from `localAddress` (any 127/8 address reaches a listener on 127.0.0.1 over loopback). */
async function dial(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  await once(socket, 'connect');
  open.push({ close: () => socket.destroy() });
  return socket;
}

/** Everything the socket receives until its peer ends. */
async function readAll(socket: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

const echo = (socket: Socket) => socket.pipe(socket);

describe('TcpForwarder', { timeout: 30_000 }, () => {
  it('pipes bytes both ways between a client and the target', async () => {
    const { port } = await target(echo);
    const forwarder = await forwarderTo(port);
    const socket = await dial(forwarder.port);
    socket.end('hello through the forwarder');
    assert.equal(await readAll(socket), 'hello through the forwarder');
  });

  it('keeps the answer flowing after the client half-closes its sending side', async () => {
    // The target answers only once the client has finished sending, as `ssh host cmd < file` needs.
    const { port } = await target((socket) => {
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      socket.on('end', () => setTimeout(() => socket.end(`got ${received.length} bytes`), 50));
    });
    const forwarder = await forwarderTo(port);
    const socket = await dial(forwarder.port);
    socket.end('x'.repeat(1000));
    assert.equal(await readAll(socket), 'got 1000 bytes');
  });

  it('reads from the target no faster than the client reads (backpressure)', async () => {
    let accepted = 0;
    const { port } = await target(async (socket) => {
      socket.on('error', () => {});
      const chunk = Buffer.alloc(64 * 1024);
      // The target writes as fast as the path accepts; what it manages to hand over is what the forwarder took in.
      let closed = false;
      socket.once('close', () => (closed = true));
      while (!closed && accepted < 256 * 1024 * 1024) {
        accepted += chunk.length;
        if (!socket.write(chunk)) await Promise.race([once(socket, 'drain'), once(socket, 'close')]).catch(() => {});
      }
    });
    const forwarder = await forwarderTo(port);
    const socket = await dial(forwarder.port);
    socket.pause();
    await sleep(1000);
    // Kernel buffers on two connections plus the streams' high-water marks: a few MiB, never the whole 256 MiB.
    assert.ok(accepted < 32 * 1024 * 1024, `the forwarder took ${accepted} bytes from the target while the client read none`);
    socket.destroy();
  });

  it('closes connections beyond its cap at once and keeps serving the others', async () => {
    const { port } = await target(echo);
    const forwarder = await forwarderTo(port, { maxConnections: 2 });
    const first = await dial(forwarder.port);
    const second = await dial(forwarder.port);
    await waitFor(() => forwarder.connections === 2);
    await closeOf(connect({ host: '127.0.0.1', port: forwarder.port }));
    assert.equal(forwarder.refused, 1);
    first.end('still served');
    assert.equal(await readAll(first), 'still served');
    second.destroy();
  });

  it('resets a source at its own cap while another source is still served, and frees the slot when a connection ends', async () => {
    const { port } = await target(echo);
    const forwarder = await forwarderTo(port, { maxConnections: 8, maxConnectionsPerSource: 2 });
    const first = await dial(forwarder.port, '127.0.0.3');
    await dial(forwarder.port, '127.0.0.3');
    await waitFor(() => forwarder.connections === 2);
    await closeOf(connect({ host: '127.0.0.1', port: forwarder.port, localAddress: '127.0.0.3' }));
    assert.equal(forwarder.refused, 1);
    const owner = await dial(forwarder.port, '127.0.0.2');
    owner.end('owner served');
    assert.equal(await readAll(owner), 'owner served');
    first.destroy();
    await waitFor(() => forwarder.connections === 1);
    const again = await dial(forwarder.port, '127.0.0.3');
    again.end('served again');
    assert.equal(await readAll(again), 'served again');
    assert.equal(forwarder.refused, 1);
  });

  it('closes the client connection when the target refuses, reports it, and serves the next connection', async () => {
    const errors: Error[] = [];
    const forwarder = await forwarderTo(await closedPort(), { onConnectionError: (error) => errors.push(error) });
    const socket = await dial(forwarder.port);
    await closeOf(socket);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /ECONNREFUSED/);
    await waitFor(() => forwarder.connections === 0);
    const again = await dial(forwarder.port);
    await closeOf(again);
    assert.equal(errors.length, 2, 'the forwarder still accepts after a failed connection');
  });

  it('frees its port and cuts open connections when stopped', async () => {
    const { port } = await target(echo);
    const forwarder = await forwarderTo(port);
    const socket = await dial(forwarder.port);
    await waitFor(() => forwarder.connections === 1);
    const closed = closeOf(socket);
    await forwarder.stop();
    await closed;
    assert.equal(forwarder.connections, 0);
    // Nothing listens there any more: a connection is refused and the port can be bound again.
    const refused = connect({ host: '127.0.0.1', port: forwarder.port });
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED');
    const rebound = createServer().listen(forwarder.port, '127.0.0.1');
    await once(rebound, 'listening');
    await new Promise((resolve) => rebound.close(resolve));
  });

  it('rejects start on a port already taken, leaving nothing open', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    open.push({ close: () => new Promise((resolve) => taken.close(resolve)) });
    const forwarder = new TcpForwarder({ listenAddress: '127.0.0.1', listenPort: (taken.address() as AddressInfo).port, target: { host: '127.0.0.1', port: 22 }, maxConnections: 1 });
    await assert.rejects(forwarder.start(), { code: 'EADDRINUSE' });
    await forwarder.stop();
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** Resolves when the socket closes, whether or not a reset came first (once() would reject on it). */
function closeOf(socket: Socket): Promise<unknown> {
  return new Promise((resolve) => socket.on('error', () => {}).once('close', resolve));
}
