// Request and response validation with ajv, exactly as docs/protocol.md §2.1–2.2 (open to unknown keys).
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { AnweddolRequest, AnweddolResponse } from './types.js';

const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const CLIENT_TOKEN = '^[0-9a-zA-Z_-]{255}$';

export const requestSchema = {
  type: 'object',
  required: ['verb', 'parameters'],
  properties: {
    verb: { type: 'string', pattern: '^[A-Z]+$' },
    parameters: {
      type: 'object',
      properties: {
        container_uuid: { type: 'string', pattern: UUID },
        client_token: { type: 'string', pattern: CLIENT_TOKEN },
        access_token: { type: 'string' },
      },
      dependencies: { container_uuid: ['client_token'], client_token: ['container_uuid'] },
    },
  },
} as const;

export const responseSchema = {
  type: 'object',
  required: ['success', 'message', 'data'],
  properties: {
    success: { type: 'boolean' },
    message: {
      type: 'string',
      pattern: '^(OK|Bad authentication|Bad request|Refused request|Unavailable|Internal error)( \\(.*\\))?$',
    },
    data: { type: 'object' },
  },
} as const;

/** Unix seconds after which a sandbox is destroyed unless renewed; null = no lifetime limit. */
const EXPIRES_AT = { type: ['integer', 'null'], minimum: 0 } as const;

/** `data` of a successful CREATE (docs/protocol.md §2.3): all six keys, and `expires_at` (an extra key Anweddol clients ignore). */
export const createDataSchema = {
  type: 'object',
  required: ['container_uuid', 'client_token', 'container_iso_sha256', 'container_username', 'container_password', 'container_listen_port'],
  properties: {
    container_uuid: { type: 'string', pattern: UUID },
    client_token: { type: 'string', pattern: CLIENT_TOKEN },
    container_iso_sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    container_username: { type: 'string', pattern: '^user_[0-9]{5}$' },
    container_password: { type: 'string', pattern: '^[a-zA-Z0-9]+$', minLength: 16 },
    container_listen_port: { type: 'integer', minimum: 1, maximum: 65535 },
    expires_at: EXPIRES_AT,
  },
} as const;

/** `data` of a successful RENEW (docs/protocol.md §2.5): the new deadline. */
export const renewDataSchema = {
  type: 'object',
  required: ['expires_at'],
  properties: { expires_at: EXPIRES_AT },
} as const;

/** `data` of a successful STAT (docs/protocol.md §2.6). */
export const statDataSchema = {
  type: 'object',
  required: ['version', 'uptime', 'available'],
  properties: {
    version: { type: 'string' },
    uptime: { type: 'integer', minimum: 0 },
    available: { anyOf: [{ type: 'integer', minimum: 0 }, { const: 'nolimit' }] },
  },
} as const;

/** DESTROY and RENEW need both credentials (the schema above only ties them together). */
export const credentialParametersSchema = {
  type: 'object',
  required: ['container_uuid', 'client_token'],
  properties: { container_uuid: { type: 'string' }, client_token: { type: 'string' } },
} as const;

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
const validateRequestShape = ajv.compile(requestSchema) as ValidateFunction<AnweddolRequest>;
const validateResponseShape = ajv.compile(responseSchema) as ValidateFunction<AnweddolResponse>;
const dataValidators: Record<string, ValidateFunction> = {
  CREATE: ajv.compile(createDataSchema),
  STAT: ajv.compile(statDataSchema),
  RENEW: ajv.compile(renewDataSchema),
};
const validateCredentials = ajv.compile(credentialParametersSchema);
const parameterValidators: Record<string, ValidateFunction> = {
  DESTROY: validateCredentials,
  RENEW: validateCredentials,
};

export type Validation<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A short reason for the client, naming the offending field (never echoing its value). */
function describe(errors: ErrorObject[] | null | undefined): string {
  const error = errors?.[0];
  if (error === undefined) return 'invalid';
  const at = error.instancePath === '' ? '' : `${error.instancePath.slice(1).replaceAll('/', '.')} `;
  if (error.keyword === 'required') return `Missing ${(error.params as { missingProperty: string }).missingProperty}`;
  if (error.keyword === 'dependencies') {
    const p = error.params as { property: string; missingProperty: string };
    return `${p.property} requires ${p.missingProperty}`;
  }
  if (error.keyword === 'pattern') return `Invalid ${at.trim()}`;
  return `${at}${error.message ?? 'is invalid'}`.trim();
}

export function validateRequest(value: unknown): Validation<AnweddolRequest> {
  if (!validateRequestShape(value)) return { ok: false, reason: describe(validateRequestShape.errors) };
  const forVerb = parameterValidators[value.verb];
  if (forVerb !== undefined && !forVerb(value.parameters)) return { ok: false, reason: describe(forVerb.errors) };
  return { ok: true, value };
}

/** Checks the envelope, and for successful built-in verbs the `data` keys. */
export function validateResponse(verb: string, value: unknown): Validation<AnweddolResponse> {
  if (!validateResponseShape(value)) return { ok: false, reason: describe(validateResponseShape.errors) };
  const forVerb = dataValidators[verb];
  if (value.success && value.message === 'OK' && forVerb !== undefined && !forVerb(value.data)) {
    return { ok: false, reason: `data ${describe(forVerb.errors)}` };
  }
  if (value.success !== (value.message === 'OK')) return { ok: false, reason: 'success does not match message' };
  return { ok: true, value };
}
