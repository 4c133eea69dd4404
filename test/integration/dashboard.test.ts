// The dashboard on the metrics listener: the one-time login URL, the session cookie, and the CSRF rules of its state-changing routes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { scrape } from '../helpers/prometheus-text.js';

describe('dashboard login and CSRF rules', () => {
  let install: TestInstall;
  let daemon: RunningDaemon;
  let origin = '';

  const loginUrl = async () => {
    const run = await runCli(['dashboard-url', '--json', '--config', install.configPath]);
    assert.equal(run.code, 0, run.stderr);
    return String(jsonOf(run).data.url);
  };
  const login = async () => {
    const response = await fetch(await loginUrl(), { redirect: 'manual' });
    return /^anweddol_dashboard=[^;]+/.exec(response.headers.get('set-cookie') ?? '')![0];
  };
  const post = (path: string, headers: Record<string, string>, body = '{}') => fetch(`${origin}${path}`, { method: 'POST', headers, body });

  before(async () => {
    install = await createTestInstall();
    daemon = await startDaemon(loadConfig(install.configPath, {}));
    origin = `http://127.0.0.1:${install.config.metrics!.listen_port as number}`;
  });
  after(async () => {
    await daemon.stop();
    install.remove();
  });

  it('dashboard-url --json prints a login URL on the metrics listener', async () => {
    const run = await runCli(['dashboard-url', '--json', '--config', install.configPath]);
    const out = jsonOf(run);
    assert.equal(out.status, 'OK');
    assert.match(String(out.data.url), new RegExp(`^${origin}/dashboard/login\\?token=[A-Za-z0-9_-]{43}$`));
  });

  it('turns the login token into an HttpOnly, SameSite=Strict session cookie, and only once', async () => {
    const url = await loginUrl();
    const first = await fetch(url, { redirect: 'manual' });
    assert.equal(first.status, 303);
    assert.equal(first.headers.get('location'), '/dashboard/');
    assert.match(first.headers.get('set-cookie')!, /^anweddol_dashboard=[A-Za-z0-9_-]{43}; Path=\/dashboard; HttpOnly; SameSite=Strict; Max-Age=3600$/);
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    assert.equal((await fetch(`${origin}/dashboard/api/overview`, { headers: { cookie } })).status, 200);
    const again = await fetch(url, { redirect: 'manual' });
    assert.equal(again.status, 401);
    assert.equal(again.headers.get('set-cookie'), null);
  });

  it('answers 401 to the API and the pages without a session', async () => {
    assert.equal((await fetch(`${origin}/dashboard/api/sandboxes`)).status, 401);
    assert.equal((await fetch(`${origin}/dashboard/api/sandboxes`, { headers: { cookie: 'anweddol_dashboard=forged' } })).status, 401);
    const page = await fetch(`${origin}/dashboard/`);
    assert.equal(page.status, 401);
    assert.match(await page.text(), /dashboard-url/);
  });

  it('refuses a state-changing POST from a foreign Origin', async () => {
    const cookie = await login();
    const response = await post('/dashboard/api/sandboxes/1/destroy', { cookie, 'content-type': 'application/json', origin: 'http://evil.example' });
    assert.equal(response.status, 403);
  });

  it('refuses a cross-site request by its Sec-Fetch-Site', async () => {
    const cookie = await login();
    const response = await post('/dashboard/api/sandboxes/1/destroy', { cookie, 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' });
    assert.equal(response.status, 403);
  });

  it('answers 405 to a GET on a state-changing route', async () => {
    const cookie = await login();
    const response = await fetch(`${origin}/dashboard/api/sandboxes/1/destroy`, { headers: { cookie } });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'POST');
  });

  it('answers 415 to a text/plain POST', async () => {
    const cookie = await login();
    const response = await post('/dashboard/api/sandboxes/1/destroy', { cookie, 'content-type': 'text/plain', origin });
    assert.equal(response.status, 415);
  });

  it('lets a same-origin JSON POST through to the admin method', async () => {
    const cookie = await login();
    const response = await post('/dashboard/api/sandboxes/999/destroy', { cookie, 'content-type': 'application/json', origin, 'sec-fetch-site': 'same-origin' });
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), { error: 'no running session 999' });
  });

  it('counts each request its CSRF rules refuse in anweddol_refusals_total with reason csrf, and no other', async () => {
    const cookie = await login();
    const csrfRefusals = async () => (await scrape(`${origin}/metrics`)).value('anweddol_refusals_total', { reason: 'csrf' });
    const before = await csrfRefusals();
    assert.equal((await post('/dashboard/api/sandboxes/1/destroy', { cookie, 'content-type': 'application/json', origin: 'http://evil.example' })).status, 403);
    assert.equal((await post('/dashboard/api/sandboxes/1/destroy', { cookie, 'content-type': 'text/plain', origin })).status, 415);
    assert.equal((await post('/dashboard/api/sandboxes/999/destroy', { cookie, 'content-type': 'application/json', origin })).status, 404);
    assert.equal(await csrfRefusals(), before! + 2);
  });

  it('serves its pages with a same-origin-only Content-Security-Policy', async () => {
    const cookie = await login();
    const page = await fetch(`${origin}/dashboard/sandboxes`, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy')!, /default-src 'self'.*frame-ancestors 'none'/);
  });
});
