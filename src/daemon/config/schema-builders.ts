// Building blocks of the configuration's JSON Schema: each carries its default and its `x-expect`, the human expectation errors print ("must be <x-expect>, got …").

export const port = (def: number | null, expect = 'a port number (1–65535)') => ({
  type: def === null ? ['integer', 'null'] : 'integer',
  minimum: 1,
  maximum: 65535,
  default: def,
  'x-expect': expect,
});
export const int = (def: number | null, minimum: number, expect: string, maximum?: number) => ({
  type: def === null ? ['integer', 'null'] : 'integer',
  minimum,
  ...(maximum === undefined ? {} : { maximum }),
  default: def,
  'x-expect': expect,
});
/** An integer where null means "no limit" even though the default is a number. */
export const intOrNull = (def: number | null, minimum: number, expect: string, maximum?: number) => ({ ...int(def, minimum, expect, maximum), type: ['integer', 'null'] });
/** Seconds, at most ten years, or null. */
export const seconds = (def: number | null, expect: string) => intOrNull(def, 1, expect, 315_360_000);
export const str = (def: string | null, expect = 'a non-empty string') => ({
  type: def === null ? ['string', 'null'] : 'string',
  minLength: 1,
  default: def,
  'x-expect': expect,
});
export const path = (def: string | null) => str(def, 'a file path (non-empty string)');
export const bool = (def: boolean) => ({ type: 'boolean', default: def, 'x-expect': 'true or false' });
export const address = (def: string) => ({ type: 'string', format: 'ip', default: def, 'x-expect': 'an IPv4 or IPv6 address' });
export const ipList = (def: string[]) => ({
  type: 'array',
  items: { type: 'string', format: 'ip-or-cidr', 'x-expect': '"any", an IP address or a CIDR range' },
  default: def,
  'x-expect': 'a list of "any", IP addresses or CIDR ranges',
});
export const ipv4Cidrs = () => ({
  type: 'array',
  items: { type: 'string', format: 'ipv4-cidr', 'x-expect': 'an IPv4 address or CIDR range' },
  default: [],
  'x-expect': 'a list of IPv4 addresses or CIDR ranges',
});
export const amqpUrl = () => ({ type: ['string', 'null'], pattern: '^amqps?://[^\\s]+$', default: null, 'x-expect': 'an amqp:// or amqps:// URL, or null' });
export const portRange = (def: [number, number]) => ({
  type: 'array',
  items: { type: 'integer', minimum: 1, maximum: 65535, 'x-expect': 'a port number (1–65535)' },
  minItems: 2,
  maxItems: 2,
  default: def,
  'x-expect': 'a pair [first, last] of port numbers, first ≤ last',
});
export const strings = (expect: string) => ({
  type: 'array',
  items: { type: 'string', minLength: 1, 'x-expect': 'a non-empty string' },
  default: [],
  'x-expect': expect,
});
export const section = (properties: Record<string, unknown>) => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  'x-expect': 'a mapping',
  properties,
});
