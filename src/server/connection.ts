// One TCP client: the server side of the key exchange and one request/response (docs/protocol.md §1); the only owner of a socket.
import type { KeyObject } from 'node:crypto';
import type { Socket } from 'node:net';
import { refusedRequest } from './errors.js';
import type { OaepDecryptor } from '../crypto/oaep-decrypt-pool.js';
import { SessionCipher } from '../crypto/session-cipher.js';
import type { Logger } from '../shared/logger.js';
import { ByteReader } from './protocol/byte-reader.js';
import { FRAME_HEADER_BYTES, decodeMessageBody, encodeMessageBody, openFramePayload, parseFrameHeader, sealFrame } from './protocol/frame.js';
import { ACK, NACK, checkAesKeyMaterial, isAck, parseClientPublicKey, sealKeyMaterialForClient, type HandshakeState } from './protocol/handshake.js';
import { LENGTH_PREFIX_BYTES, encodeLengthPrefix, parseLengthPrefix } from './protocol/length-prefix.js';
import { ProtocolViolation } from './protocol/protocol-violation.js';
import type { EmitOutcome, Refusal } from './server-events.js';
import type { AnweddolResponse, ClientInfo } from './types.js';

export interface ConnectionLimits {
  maxKeyLength: number;
  maxFrameSize: number;
  /** One deadline for handshake + request, and again for delivering the response. */
  timeoutMs: number;
}

export interface ConnectionHost {
  serverPublicKeyPem: Buffer;
  serverCiphertextBytes: number;
  decryptor: OaepDecryptor;
  limits: ConnectionLimits;
  logger: Logger;
  emit(event: string, payload: object): Promise<EmitOutcome>;
  dispatch(raw: unknown, client: ClientInfo): Promise<AnweddolResponse>;
  /** A body that is not a JSON object: reported as `malformed_request`, answered `Bad request`. */
  malformed(client: ClientInfo, reason: string): Promise<AnweddolResponse>;
  /** The peer left before taking its response (e.g. a fresh sandbox's credentials): let the server undo it. */
  undelivered(response: AnweddolResponse, client: ClientInfo): Promise<void>;
  /** The key exchange took this long (metrics). */
  handshakeCompleted?(seconds: number): void;
}

/** The peer closed or reset the socket. */
class PeerGone extends Error {}
/** The deadline fired. */
class DeadlineExceeded extends Error {}
/** A hook vetoed the connection. */
class ConnectionRefused extends Error {}

// In these states the server's next byte is an acknowledgement, so a refusal is answered `0`.
const ANSWERS_WITH_ACK: ReadonlySet<HandshakeState> = new Set(['AwaitingKeyLength', 'AwaitingClientKey', 'AwaitingAesKey', 'AwaitingRequestHeader']);

interface PendingRead {
  length: number;
  resolve(bytes: Buffer): void;
  reject(error: Error): void;
}

export class Connection {
  state: HandshakeState = 'AwaitingKeyLength';
  private readonly reader = new ByteReader();
  private pending: PendingRead | undefined;
  private ended: Error | undefined;
  private deadline: NodeJS.Timeout | undefined;
  /** Bytes a well-behaved peer can have in flight ahead of our reads. */
  private readonly maxBuffered: number;

  constructor(
    private readonly socket: Socket,
    readonly client: ClientInfo,
    private readonly host: ConnectionHost,
  ) {
    this.maxBuffered = host.limits.maxFrameSize + host.limits.maxKeyLength + 1024;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // Errors are built only for the first ending: every connection ends, and stack traces are not free.
    socket.on('end', () => this.ended ?? this.fail(new PeerGone('peer closed the connection')));
    socket.on('close', () => this.ended ?? this.fail(new PeerGone('connection closed')));
    socket.on('error', (error) => this.ended ?? this.fail(new PeerGone(`socket error ${(error as NodeJS.ErrnoException).code ?? ''}`.trim())));
  }

  /** Runs the whole exchange; never rejects; the socket is destroyed when it returns. */
  async run(): Promise<void> {
    let response: AnweddolResponse | undefined;
    let delivered = false;
    try {
      this.armDeadline();
      const accepted = await this.host.emit('connection_accepted', { client: this.client });
      if (accepted.refusal !== undefined) throw new ConnectionRefused(accepted.refusal.reason ?? 'vetoed by a hook');
      const handshakeStart = performance.now();
      const cipher = await this.keyExchange();
      this.host.handshakeCompleted?.((performance.now() - handshakeStart) / 1000);
      const initialized = await this.host.emit('client_initialized', { client: this.client });
      response = await this.receiveAndDispatch(cipher, initialized.refusal);
      this.armDeadline();
      delivered = await this.sendResponse(cipher, response);
    } catch (error) {
      this.report(error);
    } finally {
      this.disarmDeadline();
      const lastState = this.state;
      this.state = 'Closed';
      if (!delivered && response !== undefined) await this.host.undelivered(response, this.client).catch(() => {});
      this.socket.destroy();
      this.reader.clear();
      await this.host.emit('client_closed', { client: this.client, state: lastState });
    }
  }

  private async keyExchange(): Promise<SessionCipher> {
    const { limits, serverPublicKeyPem, serverCiphertextBytes, decryptor } = this.host;
    this.state = 'AwaitingKeyLength';
    const keyLength = parseLengthPrefix(await this.read(LENGTH_PREFIX_BYTES), limits.maxKeyLength);
    this.write(ACK);

    this.state = 'AwaitingClientKey';
    const clientKey: KeyObject = parseClientPublicKey(await this.read(keyLength));
    // Steps 4 and 5 go out in one segment: one syscall and one wake-up fewer; exact-length readers split them.
    this.write(Buffer.concat([ACK, encodeLengthPrefix(serverPublicKeyPem.length)]));

    this.state = 'AwaitingServerKeyLengthAck';
    this.expectAck(await this.read(1));

    this.state = 'AwaitingServerKeyAck';
    this.write(serverPublicKeyPem);
    this.expectAck(await this.read(1));

    this.state = 'AwaitingAesKey';
    const sealed = await this.read(serverCiphertextBytes);
    let material: Buffer;
    try {
      material = await decryptor.decrypt(sealed);
    } catch {
      throw new ProtocolViolation('AES key does not decrypt');
    }
    checkAesKeyMaterial(material);
    // Steps 10 and 11 together, as steps 4 and 5.
    this.write(Buffer.concat([ACK, sealKeyMaterialForClient(clientKey, material)]));

    this.state = 'AwaitingAesKeyAck';
    this.expectAck(await this.read(1));
    return SessionCipher.fromKeyMaterial(material);
  }

  /** With a refusal (a client_initialized hook vetoed), the request is still read, to keep the protocol, and answered Refused request. */
  private async receiveAndDispatch(cipher: SessionCipher, refusal: Refusal | undefined): Promise<AnweddolResponse> {
    this.state = 'AwaitingRequestHeader';
    const length = parseFrameHeader(cipher, await this.read(FRAME_HEADER_BYTES), this.host.limits.maxFrameSize);
    this.write(ACK);

    this.state = 'AwaitingRequestBody';
    const body = openFramePayload(cipher, await this.read(length));
    this.disarmDeadline();
    this.state = 'Dispatching';
    if (refusal !== undefined) {
      this.host.logger.info(`client ${this.client.id}: refused by a client_initialized hook`);
      return refusedRequest(refusal.reason).toResponse();
    }
    let raw: unknown;
    try {
      raw = decodeMessageBody(body);
    } catch (error) {
      if (!(error instanceof ProtocolViolation)) throw error;
      return this.host.malformed(this.client, error.reason);
    }
    return this.host.dispatch(raw, this.client);
  }

  /** True once the payload is flushed to the kernel; false when the socket went away first (deadline, reset). */
  private async sendResponse(cipher: SessionCipher, response: AnweddolResponse): Promise<boolean> {
    const frame = sealFrame(cipher, encodeMessageBody(response));
    this.state = 'AwaitingResponseAck';
    this.write(frame.header);
    this.expectAck(await this.read(1));
    return new Promise<boolean>((resolve) => {
      this.socket.once('finish', () => resolve(true));
      this.socket.once('close', () => resolve(false));
      this.socket.end(frame.payload);
    });
  }

  private expectAck(byte: Buffer): void {
    if (!isAck(byte)) throw new ProtocolViolation('expected acknowledgement `1`');
  }

  private report(error: unknown): void {
    const where = `client ${this.client.id}: ${this.state}`;
    const { logger } = this.host;
    if (error instanceof ProtocolViolation) {
      if (ANSWERS_WITH_ACK.has(this.state) && !this.socket.destroyed) this.socket.write(NACK);
      logger.warn(`${where}: refused (${error.reason})`);
    } else if (error instanceof DeadlineExceeded) {
      logger.warn(`${where}: deadline of ${this.host.limits.timeoutMs} ms exceeded`);
    } else if (error instanceof PeerGone) {
      logger.info(`${where}: ${error.message}`);
    } else if (error instanceof ConnectionRefused) {
      logger.info(`${where}: connection refused by hook (${error.message})`);
    } else {
      logger.error(`${where}: unexpected ${error instanceof Error ? error.name : 'error'}`);
    }
  }

  private read(length: number): Promise<Buffer> {
    const ready = this.reader.read(length);
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.ended !== undefined) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.pending = { length, resolve, reject };
    });
  }

  private write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    const pending = this.pending;
    if (pending !== undefined) {
      const bytes = this.reader.read(pending.length);
      if (bytes !== undefined) {
        this.pending = undefined;
        pending.resolve(bytes);
      }
    }
    if (this.reader.buffered > this.maxBuffered) {
      this.reader.clear();
      this.fail(new ProtocolViolation('peer sent more than the protocol allows'));
      this.socket.destroy();
    }
  }

  private fail(error: Error): void {
    if (this.ended !== undefined) return;
    this.ended = error;
    this.socket.pause();
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  private armDeadline(): void {
    this.disarmDeadline();
    this.deadline = setTimeout(() => {
      this.fail(new DeadlineExceeded());
      this.socket.destroy();
    }, this.host.limits.timeoutMs);
  }

  private disarmDeadline(): void {
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  /** Drops the connection at once (server stop). */
  abort(): void {
    this.fail(new PeerGone('server is stopping'));
    this.socket.destroy();
  }
}
