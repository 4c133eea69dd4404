// The dashboard in a real browser (Debian's chromium driven by playwright-core): login by dashboard-url, a sandbox row that follows CREATE and DESTROY, its Destroy button, a training started from the form whose chart gains one point per round.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { removeNetworkIfAny } from '../helpers/docker-sandbox.js';
import { createTestInstall, jsonOf, REPO_ROOT, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { testClientKeyPair } from '../helpers/test-keys.js';

const dockerHost = process.env.DOCKER_HOST;
/** A sandbox network of its own: another test's egress rules on a shared bridge would cut the FL agents off. */
const NETWORK = `anw-dashboard-${process.pid}`;
const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
/** Headless and quiet: without the background-networking flags chromium calls Google's services. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('dashboard in a browser', { skip: dockerHost?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  let install: TestInstall;
  let daemon: RunningDaemon;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  let origin = '';

  before(async () => {
    install = await createTestInstall({
      docker: { host: dockerHost! },
      container: { network_name: NETWORK, published_address: '127.0.0.1', max_allowed_running_container_domains: 3, container_memory: 512 },
      fl: { enabled: true },
    });
    daemon = await startDaemon(loadConfig(install.configPath, {}));
    origin = `http://127.0.0.1:${install.config.metrics!.listen_port as number}`;
    profile = mkdtempSync(join(tmpdir(), 'anweddol-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1200, height: 900 } });
    page = context.pages()[0] ?? (await context.newPage());
    // Only the dashboard's own origin: anything else the page asks for is cut (and would be a bug).
    await context.route((url) => !url.href.startsWith(`${origin}/`), (route) => route.abort());
  });

  after(async () => {
    await context?.close();
    await daemon?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
    install?.remove();
    removeNetworkIfAny(NETWORK);
  });

  it('logs in through the URL from dashboard-url', async () => {
    const run = await runCli(['dashboard-url', '--json', '--config', install.configPath]);
    const url = String(jsonOf(run).data.url);
    await page.goto(url);
    assert.equal(page.url(), `${origin}/dashboard/`);
    await page.locator('.card', { hasText: 'Sandboxes' }).waitFor();
  });

  /** On the sandboxes page (empty), a real CREATE; resolves once its row is shown. */
  async function createWithRow() {
    await page.goto(`${origin}/dashboard/sandboxes`);
    await page.locator('#sandboxes td.empty').waitFor();
    const client = new AnweddolTcpClient({ host: '127.0.0.1', port: install.config.server!.listen_port as number, keyPair: await testClientKeyPair(), timeoutMs: 120_000 });
    const created = await client.create();
    assert.equal(created.success, true, created.message);
    const data = created.data as { container_uuid: string; client_token: string; container_listen_port: number };
    const row = page.locator('#sandboxes tr[data-session]');
    await row.waitFor({ timeout: 15_000 });
    assert.match(await row.innerText(), new RegExp(`\\b${data.container_listen_port}\\b`));
    return { client, data, row };
  }

  it('shows a sandbox row after a CREATE and removes it after the DESTROY', async () => {
    const { client, data, row } = await createWithRow();
    assert.equal((await client.destroy(data.container_uuid, data.client_token)).success, true);
    await row.waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('destroys a sandbox with the Destroy button of its row', { timeout: 300_000 }, async () => {
    const { client, data, row } = await createWithRow();
    page.once('dialog', (dialog) => void dialog.accept());
    // The destroy is answered once the sandbox is gone (docker may be slow): wait for that answer, then for the row to go.
    const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/destroy'), { timeout: 120_000 }), row.locator('button.danger').click()]);
    assert.equal(answer.status(), 200, await answer.text());
    await row.waitFor({ state: 'detached', timeout: 15_000 });
    // Gone for real: its own client can no longer destroy it.
    assert.equal((await client.destroy(data.container_uuid, data.client_token)).success, false);
  });

  it('starts a training from the form and its chart gains one point per round', { timeout: 300_000 }, async () => {
    await page.goto(`${origin}/dashboard/trainings`);
    const form = page.locator('#train-form');
    await form.locator('input[name=dataset]').fill(DIGITS);
    await form.locator('input[name=clients]').fill('2');
    await form.locator('input[name=rounds]').fill('3');
    await form.locator('input[name=localEpochs]').fill('2');
    await form.locator('input[name=roundTimeoutSeconds]').fill('60');
    await form.locator('button[type=submit]').click();
    await page.locator('#started-training').click();
    await page.waitForURL(/\/dashboard\/trainings\/[0-9a-f-]{36}$/);
    // Every value the chart's point count takes, as the page sees it (it redraws on each SSE event).
    // (Strings: this code runs in the page, whose DOM types the Node project does not have.)
    await page.evaluate(`{
      const chart = document.getElementById('chart');
      const seen = [Number(chart.dataset.points)];
      window.pointCounts = seen;
      new MutationObserver(() => {
        const n = Number(chart.dataset.points);
        if (seen[seen.length - 1] !== n) seen.push(n);
      }).observe(chart, { attributes: true, attributeFilter: ['data-points'] });
    }`);
    await page.locator('#training-status .status:is(.finished, .failed, .cancelled)').waitFor({ timeout: 240_000 });
    assert.match(await page.locator('#training-status').innerText(), /^finished/, 'the training ended without finishing');
    const counts = (await page.evaluate('window.pointCounts')) as number[];
    assert.deepEqual(counts.slice(counts.indexOf(1)), [1, 2, 3]);
    assert.ok(counts[0]! <= 1, `the chart started with ${counts[0]} points`);
    assert.equal(await page.locator('#rounds tbody tr').count(), 3);
    assert.deepEqual(await page.locator('#clients a.client-update').allInnerTexts(), ['round 3 (safetensors)', 'round 3 (safetensors)']);
    await page.screenshot({ path: join(REPO_ROOT, 'docs/dashboard.png'), fullPage: true });
  });
});
