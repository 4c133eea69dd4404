// The inspector dashboard on the metrics listener: login by one-time token, pages, the JSON API under /dashboard/api/ (admin methods behind it) and live events by SSE.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { checkOrigin, checkVerbRequest } from '../../server/rest-request-policy.js';
import { packageRoot } from '../../shared/package-info.js';
import { AdminError, type AdminRouter } from '../admin-channel.js';
import type { DashboardAuth } from './dashboard-auth.js';
import type { DashboardEvents } from './dashboard-events.js';
import { loginPage, renderPage } from './dashboard-pages.js';

export const SESSION_COOKIE = 'anweddol_dashboard';

export interface DashboardRoutesOptions {
  auth: DashboardAuth;
  events: DashboardEvents;
  /** Every action goes through the admin methods, as the CLI's do. */
  admin: AdminRouter;
  /** Maximum sandboxes (null: no limit). */
  capacity: number | null | undefined;
  /** Counts a request the CSRF rules refused (refusal reason `csrf`, as REST counts `origin`). */
  reportRefusal(reason: 'csrf'): void;
}

/** `fl train` options the start form may send (the coordinator validates the values). */
const TRAINING_KEYS = ['dataset', 'clients', 'rounds', 'model', 'split', 'localEpochs', 'learningRate', 'minClients', 'roundTimeoutSeconds', 'mu', 'strategy', 'serverLearningRate', 'beta1', 'beta2', 'tau', 'serverMomentum', 'targetAccuracy', 'patience', 'startWhen', 'seed'];
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const CLIENT_ID = 'client-[0-9]{1,6}';
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};
const SSE_HEARTBEAT_MS = 15_000;

function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const root = packageRoot();
  const file = (dir: string, name: string, type: string) => [name, { type, body: readFileSync(join(root, dir, name)) }] as const;
  return new Map([
    file('node_modules/uplot/dist', 'uPlot.iife.min.js', 'text/javascript; charset=utf-8'),
    file('node_modules/uplot/dist', 'uPlot.min.css', 'text/css; charset=utf-8'),
    file('resources/dashboard', 'dashboard.js', 'text/javascript; charset=utf-8'),
    file('resources/dashboard', 'dashboard.css', 'text/css; charset=utf-8'),
  ]);
}

function sessionCookie(req: FastifyRequest): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return value.join('=');
  }
  return undefined;
}

/**
 * The REST interface's CSRF rules: a JSON POST, from this listener's own origin. A browser adds Origin (and
 * Sec-Fetch-Site) to every POST; the origin is checked against the Host the browser reached, so an SSH tunnel's
 * local port works too, and a DNS-rebound name gets no session cookie.
 */
function csrfRefusal(req: FastifyRequest): { status: number; reason: string; allow?: string } | undefined {
  const verb = checkVerbRequest(req.method, 'DASHBOARD', req.headers['content-type']);
  if (verb !== undefined) return verb;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return { status: 403, reason: 'origin not allowed' };
  return checkOrigin(req.headers.origin, new Set([`http://${req.headers.host ?? ''}`]));
}

export function registerDashboardRoutes(app: FastifyInstance, options: DashboardRoutesOptions): void {
  const { auth, events, admin } = options;
  const assets = loadAssets();
  const streams = new Set<ServerResponse>();
  const never = new AbortController().signal;
  const call = (method: string, params: Record<string, unknown> = {}) => admin.call(method, params, { notify: () => {}, signal: never });

  const requireSession = async (req: FastifyRequest, reply: FastifyReply) => {
    if (auth.isValidSession(sessionCookie(req))) return;
    if (req.url.startsWith('/dashboard/api/')) return reply.code(401).send({ error: 'not logged in: open the URL from `anweddol-server dashboard-url`' });
    return reply.code(401).type('text/html; charset=utf-8').send(loginPage('You are not logged in, or your session expired.'));
  };
  const sameOriginJson = async (req: FastifyRequest, reply: FastifyReply) => {
    const refusal = csrfRefusal(req);
    if (refusal === undefined) return;
    options.reportRefusal('csrf');
    if (refusal.allow !== undefined) void reply.header('allow', refusal.allow);
    return reply.code(refusal.status).send({ error: refusal.reason });
  };
  /** Admin errors are the caller's: 404 for an unknown id, else 400; anything else is ours. */
  const answer = async (reply: FastifyReply, work: () => Promise<unknown>) => {
    try {
      return reply.send(await work());
    } catch (error) {
      if (!(error instanceof AdminError)) throw error;
      return reply.code(/^no (running )?(training|session)\b/.test(error.message) ? 404 : 400).send({ error: error.message });
    }
  };

  app.addHook('onSend', async (req, reply) => {
    if (req.url.startsWith('/dashboard')) void reply.headers(SECURITY_HEADERS);
  });
  // Open event streams would hold the listener's close forever.
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });

  app.get('/dashboard', (_req, reply) => reply.redirect('/dashboard/'));
  app.get<{ Querystring: { token?: string } }>('/dashboard/login', (req, reply) => {
    const session = typeof req.query.token === 'string' ? auth.redeem(req.query.token) : undefined;
    if (session === undefined) return reply.code(401).type('text/html; charset=utf-8').send(loginPage('This login link is unknown, already used or expired.'));
    // Plain HTTP listener (loopback or an SSH tunnel): no Secure flag, which would stop the browser from sending it back.
    const cookie = `${SESSION_COOKIE}=${session}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${auth.sessionTtlSeconds}`;
    return reply.header('set-cookie', cookie).redirect('/dashboard/', 303);
  });
  app.get<{ Params: { name: string } }>('/dashboard/assets/:name', (req, reply) => {
    const asset = assets.get(req.params.name);
    if (asset === undefined) return reply.code(404).type('text/plain').send('Not found\n');
    return reply.type(asset.type).send(asset.body);
  });

  const page = (url: string, name: Parameters<typeof renderPage>[0]) =>
    app.get<{ Params: { id?: string } }>(url, { onRequest: requireSession }, (req, reply) => reply.type('text/html; charset=utf-8').send(renderPage(name, req.params.id)));
  page('/dashboard/', 'overview');
  page('/dashboard/sandboxes', 'sandboxes');
  page('/dashboard/trainings', 'trainings');
  page(`/dashboard/trainings/:id(^${UUID}$)`, 'training');

  const get = (url: string, handler: (req: FastifyRequest<{ Params: Record<string, string> }>, reply: FastifyReply) => unknown) =>
    app.get(url, { onRequest: requireSession }, handler as never);
  // GET on these answers 405 (the CSRF rules), not 404.
  const post = (url: string, handler: (req: FastifyRequest<{ Params: Record<string, string>; Body: unknown }>, reply: FastifyReply) => unknown) =>
    app.route({ method: ['GET', 'POST'], url, onRequest: [requireSession, sameOriginJson], handler: handler as never });

  get('/dashboard/api/overview', (_req, reply) =>
    answer(reply, async () => {
      const status = (await call('status')) as { uptime: number; sandboxes: number; available: number | 'nolimit'; version: string; pool: { size: number; ready: number } };
      const rates = events.ratesPerMinute();
      return {
        uptime: status.uptime, version: status.version, capacity: options.capacity ?? null, sandboxes: status.sandboxes, available: status.available,
        pool: status.pool.ready, pool_size: status.pool.size, requests_per_minute: rates.requests, refusals_per_minute: rates.refusals,
      };
    }),
  );
  get('/dashboard/api/sandboxes', (_req, reply) =>
    answer(reply, async () => {
      const stat = (await call('stat')) as { sessions: Array<Record<string, unknown> & { expires_at: number | null }> };
      const now = Math.floor(Date.now() / 1000);
      return { sandboxes: stat.sessions.map((s) => ({ ...s, expires_in_seconds: s.expires_at === null ? null : Math.max(0, s.expires_at - now) })) };
    }),
  );
  post('/dashboard/api/sandboxes/:id(^\\d{1,15}$)/destroy', (req, reply) => answer(reply, () => call('destroy', { session_id: Number(req.params.id) })));
  get('/dashboard/api/trainings', (_req, reply) => answer(reply, () => call('fl.status')));
  get(`/dashboard/api/trainings/:id(^${UUID}$)`, (req, reply) =>
    answer(reply, async () => {
      const summary = (await call('fl.status', { id: req.params.id })) as Record<string, unknown>;
      return { ...summary, last_client_metrics: events.lastClientMetrics(req.params.id!) ?? null };
    }),
  );
  /** A model file from `fl.export` as a safetensors download; 404 when there is none. */
  const download = async (reply: FastifyReply, params: Record<string, unknown>, name: (round: number) => string) => {
    try {
      const model = (await call('fl.export', params)) as { round: number; safetensors_base64: string };
      return await reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${name(model.round)}.safetensors"`)
        .send(Buffer.from(model.safetensors_base64, 'base64'));
    } catch (error) {
      if (!(error instanceof AdminError)) throw error;
      return reply.code(404).send({ error: error.message });
    }
  };
  get(`/dashboard/api/trainings/:id(^${UUID}$)/model`, (req, reply) => download(reply, { id: req.params.id }, (round) => `${req.params.id}-round${round}`));
  // The inspector's `/model/clients`: each client's latest update, listed, then downloadable one by one.
  get(`/dashboard/api/trainings/:id(^${UUID}$)/clients`, (req, reply) =>
    answer(reply, async () => {
      const listed = (await call('fl.client_updates', { id: req.params.id })) as { training_uuid: string; clients: Array<{ client_id: string }> };
      return { ...listed, clients: listed.clients.map((c) => ({ ...c, download: `/dashboard/api/trainings/${listed.training_uuid}/clients/${c.client_id}/model` })) };
    }),
  );
  get(`/dashboard/api/trainings/:id(^${UUID}$)/clients/:client(^${CLIENT_ID}$)/model`, (req, reply) =>
    download(reply, { id: req.params.id, client: req.params.client }, (round) => `${req.params.id}-${req.params.client}-round${round}`),
  );
  post('/dashboard/api/trainings/start', (req, reply) =>
    answer(reply, async () => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const params = Object.fromEntries(TRAINING_KEYS.filter((k) => body[k] !== undefined && body[k] !== '').map((k) => [k, body[k]]));
      return { training_uuid: await startTraining(params) };
    }),
  );
  post(`/dashboard/api/trainings/:id(^${UUID}$)/cancel`, (req, reply) => answer(reply, () => call('fl.cancel', { id: req.params.id })));

  get('/dashboard/api/events', (req, reply) => {
    reply.hijack();
    const stream = reply.raw;
    stream.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
    stream.write(': live\n\n');
    streams.add(stream);
    const unsubscribe = events.subscribe(({ event, data }) => void stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
    const heartbeat = setInterval(() => stream.write(': ping\n\n'), SSE_HEARTBEAT_MS);
    req.raw.socket.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(stream);
    });
  });

  /** fl.train answers when the training ends; the dashboard needs only its id, sent as the first progress event. */
  function startTraining(params: Record<string, unknown>): Promise<string> {
    return new Promise((resolve, reject) => {
      const notify = (event: unknown) => {
        const e = event as { name?: string; training_uuid?: string };
        if (e.name === 'fl_training_accepted' && typeof e.training_uuid === 'string') resolve(e.training_uuid);
      };
      // After the id was sent, the outcome is the coordinator's to log; reject() is then a no-op.
      Promise.resolve(admin.call('fl.train', params, { notify, signal: never })).then(() => reject(new AdminError('the training ended before it started')), reject);
    });
  }
}
