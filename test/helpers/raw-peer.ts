// A raw TCP peer for protocol tests: exact-length reads, byte-level control over every handshake step.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { oaepDecrypt, oaepEncrypt } from '../../src/crypto/rsa-oaep.js';
import { SessionCipher } from '../../src/crypto/session-cipher.js';
import type { ClientKeyPair } from '../../src/client/tcp-client.js';
import { ByteReader } from '../../src/server/protocol/byte-reader.js';
import { decodeMessageBody, openFramePayload, parseFrameHeader, sealFrame } from '../../src/server/protocol/frame.js';
import { encodeLengthPrefix, parseLengthPrefix } from '../../src/server/protocol/length-prefix.js';
import type { AnweddolResponse } from '../../src/server/types.js';
import { createPublicKey, type KeyObject } from 'node:crypto';

export class PeerClosed extends Error {}

export class RawPeer {
  private readonly reader = new ByteReader();
  private waiter: (() => void) | undefined;
  private isClosed = false;
  /** When set, every write goes out one byte at a time with a pause between bytes (split TCP segments). */
  trickle = false;
  private writes: Promise<void> = Promise.resolve();
  /** Resolves when the server (or we) closed the socket. */
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.waiter?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.waiter?.();
        resolve();
      }),
    );
  }

  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, localAddress });
      socket.once('connect', () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  write(bytes: Buffer | string): void {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    if (!this.trickle) {
      this.socket.write(buffer);
      return;
    }
    this.writes = this.writes.then(async () => {
      for (let i = 0; i < buffer.length; i += 1 + Math.floor(buffer.length / 40)) {
        if (this.isClosed) return;
        this.socket.write(buffer.subarray(i, i + 1 + Math.floor(buffer.length / 40)));
        await new Promise((r) => setTimeout(r, 1));
      }
    });
  }

  /** Exactly n bytes; rejects with PeerClosed if the socket closes first, or on timeout. */
  async read(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const bytes = this.reader.read(n);
      if (bytes !== undefined) return bytes;
      if (this.isClosed) throw new PeerClosed(`closed with ${this.reader.buffered} of ${n} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} bytes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve();
        };
      });
    }
  }

  /** Whatever arrives until the server closes (within the timeout). */
  async readToClose(timeoutMs = 5000): Promise<string> {
    const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
    await this.closed;
    clearTimeout(timer);
    return this.reader.read(this.reader.buffered)?.toString('latin1') ?? '';
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Steps 1–4: returns the server's answers to the length and to the key ('1'/'0', '' if closed). */
  async sendClientKey(pem: Buffer): Promise<string> {
    this.write(encodeLengthPrefix(pem.length));
    const lengthAck = (await this.read(1)).toString();
    if (lengthAck !== '1') return lengthAck;
    this.write(pem);
    return (await this.read(1)).toString();
  }

  /** Steps 5–8: acknowledges and returns the server's public key. */
  async receiveServerKey(): Promise<KeyObject> {
    const length = parseLengthPrefix(await this.read(8), 99_999_999);
    this.write('1');
    const pem = await this.read(length);
    this.write('1');
    return createPublicKey(pem);
  }

  /** The full key exchange with a well-behaved client; returns the session cipher. */
  async handshake(client: ClientKeyPair): Promise<SessionCipher> {
    const keyAck = await this.sendClientKey(Buffer.from(client.publicKeyPem));
    if (keyAck !== '1') throw new Error(`client key refused: ${keyAck}`);
    const serverKey = await this.receiveServerKey();
    const material = randomBytes(48);
    this.write(oaepEncrypt(serverKey, material));
    const ack = (await this.read(1)).toString();
    if (ack !== '1') throw new Error(`AES key refused: ${ack}`);
    const clientBytes = (client.privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
    const echoed = oaepDecrypt(client.privateKey, await this.read(clientBytes));
    this.write('1');
    return SessionCipher.fromKeyMaterial(echoed);
  }

  /** Sends one encrypted body (any bytes) and reads the encrypted response. */
  async exchange(cipher: SessionCipher, body: Buffer): Promise<AnweddolResponse> {
    const frame = sealFrame(cipher, body);
    this.write(frame.header);
    const ack = (await this.read(1)).toString();
    if (ack !== '1') throw new Error(`request header refused: ${ack}`);
    this.write(frame.payload);
    const length = parseFrameHeader(cipher, await this.read(16), 1 << 20);
    this.write('1');
    return decodeMessageBody(openFramePayload(cipher, await this.read(length))) as AnweddolResponse;
  }
}
