import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeVirtualization } from '../helpers/fake-virtualization.js';
import { startRestServer, type RestServer } from '../helpers/rest-server.js';

// What a web page can make a visitor's browser send without a CORS preflight: GET, and POSTs of these types.
const SIMPLE_CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'];
const ALLOWED_ORIGIN = 'https://console.example.org';

describe('REST requests a cross-site page can forge', () => {
  let rest: RestServer;
  const backend = new FakeVirtualization();
  let dispatched = 0;
  before(async () => {
    rest = await startRestServer({ serverOptions: { virtualization: backend }, listenerOptions: { allowedOrigins: [ALLOWED_ORIGIN] } });
    rest.server.on('request', async () => {
      dispatched++;
    });
  });
  beforeEach(() => {
    dispatched = 0;
  });
  after(() => rest.close());

  /** Nothing reached the request chain and no sandbox exists. */
  const assertNothingHappened = () => {
    assert.equal(dispatched, 0);
    assert.equal(backend.sandboxes.size, 0);
  };

  it('answers GET /create with 405 and Allow: POST, creating nothing', async () => {
    const { status, body, headers } = await rest.client.send('GET', '/create');
    assert.equal(status, 405);
    assert.equal(headers.allow, 'POST');
    assert.match((body as { message: string }).message, /^Bad request \(method GET not allowed, use POST\)$/);
    assertNothingHappened();
  });

  it('still answers GET /stat, and names both methods when STAT is asked with another one', async () => {
    assert.equal(((await rest.client.send('GET', '/stat')).body as { message: string }).message, 'OK');
    const { status, headers } = await rest.client.send('DELETE', '/stat');
    assert.equal(status, 405);
    assert.equal(headers.allow, 'GET, POST');
  });

  it('answers a CORS preflight from a foreign page with 403 and no CORS grant', async () => {
    const { status, headers } = await rest.client.send('OPTIONS', '/create', undefined, {
      origin: 'https://evil.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    });
    assert.equal(status, 403);
    assert.equal(headers['access-control-allow-origin'], undefined);
    assertNothingHappened();
  });

  for (const contentType of SIMPLE_CONTENT_TYPES) {
    it(`answers a POST /create sent as ${contentType.split(';')[0]} with 415, creating nothing`, async () => {
      const { status, body } = await rest.client.send('POST', '/create', '{}', { 'content-type': contentType });
      assert.equal(status, 415);
      assert.equal((body as { message: string }).message, 'Bad request (Content-Type must be application/json)');
      assertNothingHappened();
    });
  }

  it('answers a POST without any Content-Type with 415', async () => {
    const { status } = await rest.client.send('POST', '/create', undefined);
    assert.equal(status, 415);
    assertNothingHappened();
  });

  it('refuses a JSON POST /create from a foreign Origin with 403 Refused request, creating nothing', async () => {
    const { status, body } = await rest.client.send('POST', '/create', '{}', { origin: 'https://evil.example' });
    assert.equal(status, 403);
    assert.equal((body as { message: string }).message, 'Refused request (origin not allowed)');
    assertNothingHappened();
  });

  it('refuses the opaque Origin "null" (sandboxed frames, file: pages)', async () => {
    assert.equal((await rest.client.send('POST', '/create', '{}', { origin: 'null' })).status, 403);
    assertNothingHappened();
  });

  it('refuses a foreign Origin on GET /stat and on the welcome path too', async () => {
    assert.equal((await rest.client.send('GET', '/stat', undefined, { origin: 'https://evil.example' })).status, 403);
    assert.equal((await rest.client.send('GET', '/', undefined, { origin: 'https://evil.example' })).status, 403);
  });

  it('serves a JSON POST /create from an allowed Origin', async () => {
    const { status, body } = await rest.client.send('POST', '/create', '{}', { origin: ALLOWED_ORIGIN });
    assert.equal(status, 200);
    const created = body as { message: string; data: { container_uuid: string; client_token: string } };
    assert.equal(created.message, 'OK');
    assert.equal(backend.sandboxes.size, 1);
    await rest.client.destroy(created.data.container_uuid, created.data.client_token);
  });

  it('matches origins exactly (another port or scheme is another origin)', async () => {
    assert.equal((await rest.client.send('POST', '/stat', '{}', { origin: `${ALLOWED_ORIGIN}:8443` })).status, 403);
    assert.equal((await rest.client.send('POST', '/stat', '{}', { origin: ALLOWED_ORIGIN.replace('https', 'http') })).status, 403);
  });

  it('serves the real client (JSON POST, no Origin) for every verb', async () => {
    const created = await rest.client.create();
    assert.equal(created.message, 'OK');
    assert.equal((await rest.client.destroy(created.data.container_uuid as string, created.data.client_token as string)).message, 'OK');
    assert.equal((await rest.client.stat()).message, 'OK');
  });
});
