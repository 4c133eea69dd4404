// Which HTTP requests may reach a verb (the REST side of CSRF): pure decisions over method, path verb, media type and Origin.

/** GET is kept only for verbs that change nothing; every other verb needs a JSON POST. */
const SAFE_GET_VERBS: ReadonlySet<string> = new Set(['STAT']);

export type RestRefusal =
  | { status: 403; reason: 'origin not allowed' }
  | { status: 405; reason: string; allow: string }
  | { status: 415; reason: string };

/**
 * A browser page can make a visitor's browser send GETs and "simple" POSTs (text/plain, form encodings) to any
 * address without asking; a JSON POST from another origin needs a CORS preflight, which this API never grants.
 */
export function checkVerbRequest(method: string, verb: string, contentType: string | undefined): RestRefusal | undefined {
  const safeGet = SAFE_GET_VERBS.has(verb.toUpperCase());
  if (method === 'GET' && safeGet) return undefined;
  if (method !== 'POST') {
    const allow = safeGet ? 'GET, POST' : 'POST';
    return { status: 405, reason: `method ${method} not allowed, use ${allow.replace(', ', ' or ')}`, allow };
  }
  if (mediaType(contentType) !== 'application/json') return { status: 415, reason: 'Content-Type must be application/json' };
  return undefined;
}

/** Requests carrying an Origin header come from a browser page: only listed origins (exact `scheme://host[:port]`) pass. */
export function checkOrigin(origin: string | undefined, allowed: ReadonlySet<string>): RestRefusal | undefined {
  if (origin === undefined || allowed.has(origin)) return undefined;
  return { status: 403, reason: 'origin not allowed' };
}

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';', 1)[0]!.trim().toLowerCase();
}

/** True for an origin as browsers send it (`https://example.org`, `http://10.0.0.1:8080`); config validation uses it. */
export function isWebOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}
