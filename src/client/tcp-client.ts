// The client side of the Anweddol TCP protocol (docs/protocol.md §1): one connection per request.
import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { Socket, connect } from 'node:net';
import { promisify } from 'node:util';
import { sha256Hex } from '../crypto/hash.js';
import { oaepDecrypt, oaepEncrypt } from '../crypto/rsa-oaep.js';
import { AES_IV_BYTES, AES_KEY_BYTES, SessionCipher } from '../crypto/session-cipher.js';
import { ByteReader } from '../server/protocol/byte-reader.js';
import { FRAME_HEADER_BYTES, decodeMessageBody, encodeMessageBody, openFramePayload, parseFrameHeader, sealFrame } from '../server/protocol/frame.js';
import { ACK, AES_KEY_MATERIAL_BYTES, isAck } from '../server/protocol/handshake.js';
import { LENGTH_PREFIX_BYTES, encodeLengthPrefix, parseLengthPrefix } from '../server/protocol/length-prefix.js';
import { ProtocolViolation } from '../server/protocol/protocol-violation.js';
import type { AnweddolResponse } from '../server/types.js';
import { AnweddolVerbClient } from './verb-client.js';

// A server key PEM is a few KiB; a larger announcement is an attack on the client's memory.
const MAX_SERVER_KEY_LENGTH = 16 * 1024;

const generateKeyPairAsync = promisify(generateKeyPair);

/** A client RSA key pair; generate once and reuse it across requests (keygen is slow). */
export interface ClientKeyPair {
  publicKeyPem: string;
  privateKey: KeyObject;
}

export async function generateClientKeyPair(bits: 2048 | 3072 | 4096 = 4096): Promise<ClientKeyPair> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: bits });
  return { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
}

export function clientKeyPairFromPem(privateKeyPem: string): ClientKeyPair {
  const privateKey = createPrivateKey(privateKeyPem);
  return { publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(), privateKey };
}

export interface AnweddolTcpClientOptions {
  host: string;
  port?: number;
  /** Size of the client key generated on first use when `keyPair` is absent. */
  rsaKeyBits?: 2048 | 4096;
  keyPair?: ClientKeyPair;
  /** Whole-request deadline. */
  timeoutMs?: number;
  /** Largest response frame accepted. */
  maxFrameSize?: number;
  /** Expected server key fingerprint (sha256 hex of the DER SPKI); mismatch aborts. */
  serverFingerprint?: string;
  /** Local address to connect from (e.g. 127.0.0.2 to be another loopback client). */
  localAddress?: string;
}

export class AnweddolClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnweddolClientError';
  }
}

export class AnweddolTcpClient extends AnweddolVerbClient {
  private keyPair: Promise<ClientKeyPair> | undefined;

  constructor(private readonly options: AnweddolTcpClientOptions) {
    super();
    if (options.keyPair !== undefined) this.keyPair = Promise.resolve(options.keyPair);
  }

  /** Full exchange: key exchange, one encrypted request, one encrypted response. */
  async request(verb: string, parameters: Record<string, unknown> = {}): Promise<AnweddolResponse> {
    this.keyPair ??= generateClientKeyPair(this.options.rsaKeyBits ?? 4096);
    const keyPair = await this.keyPair;
    const session = await ClientSession.open(this.options, this.options.timeoutMs ?? 10_000);
    try {
      return await session.exchange(keyPair, { verb, parameters }, this.options);
    } catch (error) {
      if (error instanceof ProtocolViolation) throw new AnweddolClientError(`protocol error: ${error.reason}`);
      throw error;
    } finally {
      session.close();
    }
  }
}

// The server key rarely changes: keep the last few parsed ones (RSA PEM parsing is not free).
const serverKeys = new Map<string, KeyObject>();

function parseServerKey(pem: Buffer): KeyObject {
  const text = pem.toString('latin1');
  let key = serverKeys.get(text);
  if (key !== undefined) return key;
  try {
    key = createPublicKey(text);
  } catch {
    throw new AnweddolClientError('server sent an invalid public key');
  }
  if (key.asymmetricKeyType !== 'rsa') throw new AnweddolClientError('server key is not RSA');
  if (serverKeys.size >= 16) serverKeys.clear();
  serverKeys.set(text, key);
  return key;
}

/** One socket with exact-length reads and a deadline. */
class ClientSession {
  private readonly reader = new ByteReader();
  private pending: { length: number; resolve(b: Buffer): void; reject(e: Error): void } | undefined;
  private failure: Error | undefined;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly socket: Socket,
    timeoutMs: number,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      const pending = this.pending;
      if (pending === undefined) return;
      const bytes = this.reader.read(pending.length);
      if (bytes === undefined) return;
      this.pending = undefined;
      pending.resolve(bytes);
    });
    socket.on('error', (error) => this.fail(new AnweddolClientError(`connection error: ${error.message}`)));
    socket.on('close', () => this.fail(new AnweddolClientError('server closed the connection')));
    this.timer = setTimeout(() => {
      this.fail(new AnweddolClientError(`no answer within ${timeoutMs} ms`));
      socket.destroy();
    }, timeoutMs);
  }

  static open(options: AnweddolTcpClientOptions, timeoutMs: number): Promise<ClientSession> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: options.host, port: options.port ?? 6150, localAddress: options.localAddress });
      const session = new ClientSession(socket, timeoutMs);
      socket.once('connect', () => {
        session.onFailure = undefined;
        resolve(session);
      });
      session.onFailure = reject;
    });
  }

  private onFailure: ((error: Error) => void) | undefined;

  async exchange(keyPair: ClientKeyPair, message: { verb: string; parameters: Record<string, unknown> }, options: AnweddolTcpClientOptions): Promise<AnweddolResponse> {
    const pem = Buffer.from(keyPair.publicKeyPem, 'ascii');
    this.socket.write(encodeLengthPrefix(pem.length));
    await this.expectAck('key length');
    this.socket.write(pem);
    await this.expectAck('client key');

    const serverKeyLength = parseLengthPrefix(await this.read(LENGTH_PREFIX_BYTES), MAX_SERVER_KEY_LENGTH);
    this.socket.write(ACK);
    const serverKeyPem = await this.read(serverKeyLength);
    const serverKey = parseServerKey(serverKeyPem);
    if (options.serverFingerprint !== undefined) {
      if (sha256Hex(serverKey.export({ type: 'spki', format: 'der' })) !== options.serverFingerprint.toLowerCase()) {
        throw new AnweddolClientError('server key fingerprint mismatch');
      }
    }
    this.socket.write(ACK);

    const material = randomBytes(AES_KEY_BYTES + AES_IV_BYTES);
    this.socket.write(oaepEncrypt(serverKey, material));
    await this.expectAck('AES key');
    const clientBytes = Math.ceil((keyPair.privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
    const echoed = oaepDecrypt(keyPair.privateKey, await this.read(clientBytes));
    if (echoed.length !== AES_KEY_MATERIAL_BYTES) throw new AnweddolClientError('server sent bad AES key material');
    this.socket.write(ACK);
    const cipher = SessionCipher.fromKeyMaterial(echoed);

    const frame = sealFrame(cipher, encodeMessageBody(message));
    this.socket.write(frame.header);
    await this.expectAck('request header');
    this.socket.write(frame.payload);

    const length = parseFrameHeader(cipher, await this.read(FRAME_HEADER_BYTES), options.maxFrameSize ?? 1024 * 1024);
    this.socket.write(ACK);
    const body = openFramePayload(cipher, await this.read(length));
    const response = decodeMessageBody(body) as AnweddolResponse;
    if (typeof response.success !== 'boolean' || typeof response.message !== 'string' || typeof response.data !== 'object') {
      throw new AnweddolClientError('malformed response');
    }
    return response;
  }

  close(): void {
    clearTimeout(this.timer);
    this.socket.destroy();
  }

  private async expectAck(step: string): Promise<void> {
    const byte = await this.read(1);
    if (!isAck(byte)) throw new AnweddolClientError(`server refused the ${step}`);
  }

  private read(length: number): Promise<Buffer> {
    const ready = this.reader.read(length);
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { length, resolve, reject };
    });
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    clearTimeout(this.timer);
    this.onFailure?.(error);
    this.onFailure = undefined;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }
}
