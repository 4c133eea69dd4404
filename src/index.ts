// Public library API: server, client, crypto, protocol codec, errors, types and contracts.
export { AnweddolServer, type AnweddolServerOptions, type RuntimeStatistics, type Transport as ServerTransport } from './server/anweddol-server.js';
export type { RequestHandler, RequestContext, AccessTokenVerifier } from './server/request-dispatcher.js';
export type {
  ServerEventName,
  ServerEventPayloads,
  VetoableEventName,
  AnweddolCallbackName,
  EventContext,
  CustomEventContext,
  EventHandler,
  Refusal,
  DestroyReason,
  CreatedSandboxPayload,
  DestroyedSandboxPayload,
  FlSandboxMark,
} from './server/server-events.js';
export { ANWEDDOL_CALLBACKS, IgnoredVetoError, canonicalEventName } from './server/server-events.js';
export { MemorySessionStore } from './server/memory-session-store.js';
export { clientInfo, clientId, unmapAddress } from './server/client-info.js';
export { validateRequest, validateResponse, requestSchema, responseSchema, createDataSchema, statDataSchema, renewDataSchema } from './server/message-validator.js';
export { ProtocolError, badRequest, badAuthentication, refusedRequest, unavailable, internalError, type AnweddolFailure } from './server/errors.js';
export { silentLogger, type Logger } from './shared/logger.js';
export type { AnweddolRequest, AnweddolResponse, ClientInfo, Transport } from './server/types.js';

export { AnweddolTcpClient, AnweddolClientError, generateClientKeyPair, clientKeyPairFromPem, type AnweddolTcpClientOptions, type ClientKeyPair } from './client/tcp-client.js';

export { RsaKeyPair, DEFAULT_RSA_BITS } from './crypto/rsa-key-pair.js';
export { oaepEncrypt, oaepDecrypt } from './crypto/rsa-oaep.js';
export { SessionCipher } from './crypto/session-cipher.js';
export { OaepDecryptPool, InlineOaepDecryptor, type OaepDecryptor } from './crypto/oaep-decrypt-pool.js';
export { sha256Hex, constantTimeHexEqual } from './crypto/hash.js';
export {
  generateClientToken,
  generateAccessToken,
  generateSshPassword,
  generateUsername,
  generateUuid,
  CLIENT_TOKEN_PATTERN,
  ACCESS_TOKEN_PATTERN,
  SSH_PASSWORD_PATTERN,
  USERNAME_PATTERN,
  UUID4_PATTERN,
} from './crypto/tokens.js';

export { encodeLengthPrefix, parseLengthPrefix } from './server/protocol/length-prefix.js';
export { sealFrame, parseFrameHeader, openFramePayload, encodeMessageBody, decodeMessageBody } from './server/protocol/frame.js';
export { ByteReader } from './server/protocol/byte-reader.js';
export { ProtocolViolation } from './server/protocol/protocol-violation.js';

export type { SessionStore, SessionRecord, NewSession } from './database/session-store.js';
export { AnweddolDatabase } from './database/database.js';
export type {
  VirtualizationInterface,
  VirtualizationEvents,
  Sandbox,
  SandboxSpec,
  SandboxFile,
  SandboxEndReason,
  SandboxNetworkInfo,
  ExecResult,
} from './virtualization/virtualization-interface.js';
export { ForeignContainerError, BackendConfigurationError, DiskLimitUnsupportedError } from './virtualization/virtualization-errors.js';
