import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { FakeVirtualization } from '../helpers/fake-virtualization.js';
import { startRestServer, type RestServer } from '../helpers/rest-server.js';

for (const tls of [false, true]) {
  describe(`REST listener over ${tls ? 'HTTPS' : 'HTTP'}`, () => {
    let rest: RestServer;
    const seen: string[] = [];
    const backend = new FakeVirtualization();
    before(async () => {
      rest = await startRestServer({ tls, maxBodySize: 1024, serverOptions: { virtualization: backend } });
      rest.server.setRequestHandler('HELLO', async (request, ctx) => ({
        success: true,
        message: 'OK',
        data: { echo: request.parameters.name ?? null, transport: ctx.client.transport },
      }));
      rest.server.on('request', async (ctx: { client: { transport: string } }) => {
        seen.push(ctx.client.transport);
      });
    });
    after(() => rest.close());

    it('answers GET / with a welcome and links', async () => {
      const { status, body } = await rest.client.send('GET', '/');
      assert.equal(status, 200);
      const response = body as { success: boolean; message: string; data: { links: string[] } };
      assert.equal(response.success, true);
      assert.ok(response.message.length > 0);
      assert.ok(Array.isArray(response.data.links));
    });

    it('answers STAT on GET with version, uptime and available slots', async () => {
      const { status, body } = await rest.client.send('GET', '/stat');
      assert.equal(status, 200);
      const response = body as { success: boolean; message: string; data: Record<string, unknown> };
      assert.equal(response.message, 'OK');
      assert.equal(typeof response.data.version, 'string');
      assert.equal(typeof response.data.uptime, 'number');
      assert.equal(response.data.available, 6);
    });

    it('answers STAT on POST with an empty parameters object', async () => {
      const response = await rest.client.stat();
      assert.equal(response.success, true);
    });

    it('creates a sandbox with POST /create and destroys it with POST /destroy', async () => {
      const created = await rest.client.create();
      assert.equal(created.message, 'OK');
      const d = created.data as Record<string, unknown>;
      assert.deepEqual(Object.keys(d).sort(), [
        'client_token', 'container_iso_sha256', 'container_listen_port', 'container_password', 'container_username', 'container_uuid', 'expires_at',
      ]);
      assert.equal(backend.sandboxes.size, 1);
      const destroyed = await rest.client.destroy(d.container_uuid as string, d.client_token as string);
      assert.deepEqual(destroyed, { success: true, message: 'OK', data: {} });
      assert.equal(backend.sandboxes.size, 0);
    });

    it('refuses DESTROY with a wrong token with Bad authentication', async () => {
      const created = await rest.client.create();
      const uuid = created.data.container_uuid as string;
      const wrong = await rest.client.destroy(uuid, 'A'.repeat(255));
      assert.equal(wrong.message, 'Bad authentication');
      assert.equal(backend.sandboxes.size, 1);
      await rest.client.destroy(uuid, created.data.client_token as string);
    });

    it('upper-cases the verb from the path and reaches custom verbs with the body as parameters', async () => {
      const { status, body } = await rest.client.send('POST', '/hello', JSON.stringify({ name: 'ada' }));
      assert.equal(status, 200);
      assert.deepEqual(body, { success: true, message: 'OK', data: { echo: 'ada', transport: tls ? 'https' : 'http' } });
    });

    it('runs the same request events as TCP', async () => {
      seen.length = 0;
      await rest.client.stat();
      assert.deepEqual(seen, [tls ? 'https' : 'http']);
    });

    it('answers an unknown verb with Bad request (Unhandled verb) and HTTP 200', async () => {
      const { status, body } = await rest.client.send('POST', '/nosuchverb', '{}');
      assert.equal(status, 200);
      assert.deepEqual(body, { success: false, message: 'Bad request (Unhandled verb)', data: {} });
    });

    it('answers malformed JSON with Bad request and HTTP 200', async () => {
      const { status, body } = await rest.client.send('POST', '/stat', '{"not json');
      assert.equal(status, 200);
      assert.equal((body as { message: string }).message, 'Bad request (Malformed JSON)');
    });

    it('answers a JSON body that is not an object with Bad request', async () => {
      const { status, body } = await rest.client.send('POST', '/stat', '[1,2]');
      assert.equal(status, 200);
      assert.match((body as { message: string }).message, /^Bad request/);
    });

    it('validates parameters like TCP does (uuid without token)', async () => {
      const { body } = await rest.client.send('POST', '/destroy', JSON.stringify({ container_uuid: '00000000-0000-4000-8000-000000000000' }));
      assert.match((body as { message: string }).message, /^Bad request/);
    });

    it('refuses a body above the cap with HTTP 413', async () => {
      const { status, body } = await rest.client.send('POST', '/stat', JSON.stringify({ pad: 'x'.repeat(2048) }));
      assert.equal(status, 413);
      assert.equal((body as { success: boolean }).success, false);
    });

    it('answers a path with more than one segment with 404 and a Bad request body', async () => {
      const { status, body } = await rest.client.send('GET', '/foo/stat');
      assert.equal(status, 404);
      assert.equal((body as { message: string }).message, 'Bad request (Not found)');
    });

    it('accepts a JSON content type with parameters', async () => {
      const { status, body } = await rest.client.send('POST', '/hello', '{"name":"bob"}', { 'content-type': 'Application/JSON; charset=utf-8' });
      assert.equal(status, 200);
      assert.equal((body as { data: { echo: string } }).data.echo, 'bob');
    });
  });
}

describe('REST client leaving during CREATE', () => {
  let rest: RestServer;
  const backend = new FakeVirtualization({ createDelayMs: 300 });
  before(async () => {
    rest = await startRestServer({ serverOptions: { virtualization: backend } });
  });
  after(() => rest.close());

  it('destroys the sandbox whose credentials could not be delivered', async () => {
    const { port } = rest.listener.address();
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('POST /create HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(backend.sandboxes.size, 0);
    assert.equal(backend.destroyed.length, 1);
    assert.equal(rest.server.getRuntimeStatistics().sessions, 0);
  });
});
