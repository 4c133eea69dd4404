// Every REST answer is counted once in anweddol_requests_total, early ones included (CSRF 405/415/403, malformed JSON, oversize, 404), and every refusal under its reason.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serveMetrics, type Scrape, type ServedMetrics } from '../helpers/prometheus-text.js';
import { startRestServer, type RestServer } from '../helpers/rest-server.js';

const MAX_BODY = 1024;
let rest: RestServer;
let metrics: ServedMetrics;
let base = '';
let denyEveryone = false;

const sum = (sample: Scrape, name: string, labels: Record<string, string>) =>
  sample.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

interface RestCase {
  what: string;
  send: () => Promise<Response>;
  verb: string;
  result: string;
  refusal?: string;
}

const json = { 'content-type': 'application/json' };
const CASES: RestCase[] = [
  { what: 'a GET on a state-changing verb (405)', send: () => fetch(`${base}/create`), verb: 'CREATE', result: 'Bad request' },
  { what: 'a text/plain POST (415)', send: () => fetch(`${base}/create`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }), verb: 'CREATE', result: 'Bad request' },
  { what: 'a request from a foreign Origin (403)', send: () => fetch(`${base}/stat`, { method: 'POST', headers: { ...json, origin: 'http://evil.example' }, body: '{}' }), verb: 'STAT', result: 'Refused request', refusal: 'origin' },
  { what: 'a malformed JSON body', send: () => fetch(`${base}/stat`, { method: 'POST', headers: json, body: '{"verb":' }), verb: 'other', result: 'Bad request' },
  { what: 'an oversize body (413)', send: () => fetch(`${base}/stat`, { method: 'POST', headers: json, body: JSON.stringify({ pad: 'x'.repeat(2 * MAX_BODY) }) }), verb: 'STAT', result: 'Bad request' },
  { what: 'an unknown path (404)', send: () => fetch(`${base}/no/such/path`), verb: 'other', result: 'Bad request' },
  { what: 'the welcome page', send: () => fetch(`${base}/`), verb: 'other', result: 'OK' },
  { what: 'a verb without a handler', send: () => fetch(`${base}/somesecretverb`, { method: 'POST', headers: json, body: '{}' }), verb: 'other', result: 'Bad request' },
  { what: 'a STAT', send: () => fetch(`${base}/stat`), verb: 'STAT', result: 'OK' },
  {
    what: 'a request the IP filter denies',
    send: async () => {
      denyEveryone = true;
      try {
        return await fetch(`${base}/stat`);
      } finally {
        denyEveryone = false;
      }
    },
    verb: 'STAT',
    result: 'Refused request',
    refusal: 'ip_filter',
  },
];

describe('metrics of REST answers', () => {
  before(async () => {
    rest = await startRestServer({ maxBodySize: MAX_BODY, serverOptions: { ipFilter: () => !denyEveryone } });
    base = rest.listener.url();
    metrics = await serveMetrics(rest.server);
  });
  after(async () => {
    await metrics?.close();
    await rest?.close();
  });

  for (const c of CASES) {
    it(`counts ${c.what} once, as ${c.verb} ${c.result}${c.refusal ? `, and one ${c.refusal} refusal` : ', and no refusal'}`, async () => {
      const before = await metrics.read();
      const response = await c.send();
      const body = (await response.json()) as { message: string };
      assert.match(body.message, c.result === 'OK' ? /./ : new RegExp(`^${c.result}`));
      const after = await metrics.read();
      const moved = (name: string, labels: Record<string, string>) => sum(after, name, labels) - sum(before, name, labels);
      assert.equal(moved('anweddol_requests_total', { verb: c.verb, result: c.result, transport: 'http' }), 1);
      assert.equal(moved('anweddol_requests_total', { transport: 'http' }), 1, 'counted more than once');
      assert.equal(moved('anweddol_refusals_total', {}), c.refusal ? 1 : 0);
      if (c.refusal) assert.equal(moved('anweddol_refusals_total', { reason: c.refusal }), 1);
    });
  }

  it('carries no client address and no client-chosen text in any label', async () => {
    const sample = await metrics.read();
    assert.doesNotMatch(sample.text, /127\.0\.0\.1|::1|::ffff:|evil\.example|somesecretverb|SOMESECRETVERB|no\/such/i);
  });
});
