// The FL agent channel's broker messages (both directions), as pure encode/decode over AMQP properties and bodies.
import { encodeNotification, type Notification } from './notification.js';

/** What a message carries besides its body (the subset of AMQP basic properties the channel uses). */
export interface WireProperties {
  type?: string;
  contentType?: string;
  userId?: string;
  headers?: Record<string, unknown>;
}

export interface WireMessage {
  properties: WireProperties;
  body: Buffer;
}

/** Agent → coordinator message kinds, one per HTTP route of the agent API. */
export type UploadKind = 'update' | 'metrics' | 'statistics';

export interface DecodedUpload {
  kind: UploadKind;
  token: string;
  /** The model uuid (update, metrics) or the training uuid (statistics): the HTTP route's path parameter. */
  target: string;
  /** The multipart fields of an update (owner, round, sample_size, metric_names, metric_values). */
  fields: Record<string, string>;
  body: Buffer;
}

export class BrokerWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrokerWireError';
  }
}

const UPDATE_FIELDS = ['owner', 'round', 'sample_size', 'metric_names', 'metric_values'] as const;
const MAX_HEADER_CHARS = 4096;
const TARGET = /^[0-9a-f-]{36}$/;

function bearer(token: string): string {
  return `Bearer ${token}`;
}

function tokenOf(headers: Record<string, unknown>): string | undefined {
  const h = headers.authorization;
  if (typeof h !== 'string' || !h.startsWith('Bearer ')) return undefined;
  const t = h.slice(7).trim();
  return t === '' ? undefined : t;
}

/** Coordinator → agent: the notification as headers; a round's notification carries the global model file as its body. */
export function encodeNotificationMessage(n: Notification, token: string, model?: Buffer): WireMessage {
  return {
    properties: {
      type: 'notification',
      contentType: 'application/octet-stream',
      headers: { authorization: bearer(token), notification: JSON.stringify(encodeNotification(n)) },
    },
    body: model ?? Buffer.alloc(0),
  };
}

/** The raw notification object (for `parseNotification`), the presented token and the attached model, if any. */
export function decodeNotificationMessage(m: WireMessage): { raw: unknown; token: string | undefined; model: Buffer | undefined } {
  const headers = m.properties.headers ?? {};
  const text = headers.notification;
  if (m.properties.type !== 'notification' || typeof text !== 'string' || text.length > MAX_HEADER_CHARS) throw new BrokerWireError('not a notification message');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BrokerWireError('notification header is not JSON');
  }
  return { raw, token: tokenOf(headers), model: m.body.length > 0 ? m.body : undefined };
}

/** Agent → coordinator: an upload as the HTTP API would receive it, with the route's parameter and fields as headers. */
export function encodeUploadMessage(kind: UploadKind, token: string, target: string, body: Buffer, fields: Record<string, string> = {}, userId?: string): WireMessage {
  return {
    properties: {
      type: kind,
      contentType: kind === 'update' ? 'application/octet-stream' : 'application/json',
      ...(userId === undefined ? {} : { userId }),
      headers: { authorization: bearer(token), target, ...fields },
    },
    body,
  };
}

/** Throws BrokerWireError naming the problem; the token is not checked here (the coordinator's registry does that). */
export function decodeUploadMessage(m: WireMessage): DecodedUpload {
  const kind = m.properties.type;
  if (kind !== 'update' && kind !== 'metrics' && kind !== 'statistics') throw new BrokerWireError(`unknown message type ${JSON.stringify(String(kind).slice(0, 40))}`);
  const headers = m.properties.headers ?? {};
  const token = tokenOf(headers);
  if (token === undefined) throw new BrokerWireError('missing or invalid bearer token');
  const target = headers.target;
  if (typeof target !== 'string' || !TARGET.test(target)) throw new BrokerWireError('target must be a lowercase UUID');
  const fields: Record<string, string> = {};
  if (kind === 'update') {
    for (const f of UPDATE_FIELDS) {
      const v = headers[f];
      if (v === undefined) continue;
      if (typeof v !== 'string' || v.length > MAX_HEADER_CHARS) throw new BrokerWireError(`header ${f} must be a short string`);
      fields[f] = v;
    }
  }
  return { kind, token, target, fields, body: m.body };
}
