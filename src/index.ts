// Public library API (the package entry): server, transports, backend, stores, policies, daemon and plugins, client, crypto, codec, errors.
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
export { HttpListener, type HttpListenerOptions, type HttpDispatchTarget } from './server/http-listener.js';
export { IpFilter, type IpFilterOptions } from './server/ip-filter.js';
export { createLogger, type ClosableLogger, type LoggingOptions, type LogRotationOptions } from './server/logging.js';
export { clientInfo, clientId, unmapAddress } from './server/client-info.js';
export { validateRequest, validateResponse, requestSchema, responseSchema, createDataSchema, statDataSchema, renewDataSchema } from './server/message-validator.js';
export { ProtocolError, badRequest, badAuthentication, refusedRequest, unavailable, internalError, type AnweddolFailure } from './server/errors.js';
export { silentLogger, type Logger } from './shared/logger.js';
export { AnweddolError, BackendUnavailableError } from './shared/errors.js';
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
export { SqliteSessionStore } from './database/sqlite-session-store.js';
export { AccessTokenStore, type AccessTokenEntry } from './database/access-token-store.js';
export { DockerVirtualization, type DockerVirtualizationOptions } from './virtualization/docker/docker-virtualization.js';

export { startDaemon, type DaemonOptions, type RunningDaemon, type ListenerInfo } from './daemon/daemon.js';
export { loadConfig, parseConfig, defaultConfig, resolveConfigPath, ConfigError } from './daemon/config/config-loader.js';
export type { AnweddolConfig, PluginConfigItem } from './daemon/config/config-schema.js';
export { PluginError } from './daemon/plugins/plugin-loader.js';
export type { PluginApi, PluginServer, PluginEntry, DaemonPlugin, PluginRegister, PluginCleanup, SetRequestHandlerOptions } from './daemon/plugins/plugin-api.js';
export type { AdminHandler, AdminCallContext } from './daemon/admin-channel.js';
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
