// Request/response shapes of the Anweddol protocol (docs/protocol.md §2) and who sent them.

export interface AnweddolRequest {
  verb: string;
  parameters: Record<string, unknown>;
}

export interface AnweddolResponse {
  success: boolean;
  message: string;
  data: Record<string, unknown>;
}

export type Transport = 'tcp' | 'http' | 'https' | 'amqp';

export interface ClientInfo {
  /**
   * Remote IP address as seen by the listener (IPv4-mapped IPv6 already unmapped); over the broker (`amqp`), which
   * has no peer address, `amqp:token:<hash of the access token>` or `amqp:anonymous` (see brokerClientAddress).
   */
  address: string;
  port: number;
  transport: Transport;
  /** 12 hex chars of HMAC-SHA256(key, address) (`clientId`): the only client identity that reaches logs. */
  id: string;
}
