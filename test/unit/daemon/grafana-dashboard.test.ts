import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DaemonMetrics } from '../../../src/daemon/metrics/daemon-metrics.js';
import { AnweddolServer } from '../../../src/server/anweddol-server.js';
import { REPO_ROOT } from '../../helpers/cli-runner.js';
import { testServerKeyPair } from '../../helpers/test-keys.js';

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

const dashboard = JSON.parse(readFileSync(`${REPO_ROOT}/resources/grafana-dashboard.json`, 'utf8')) as { panels: Panel[] };
const queried = new Set(
  dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\banweddol_[a-z_]+/g)].map(([name]) => name.replace(/_(bucket|count|sum)$/, ''))),
);

describe('resources/grafana-dashboard.json', () => {
  it('queries only series the daemon exports, and every one of them', async () => {
    const metrics = new DaemonMetrics(new AnweddolServer({ rsaKeyPair: await testServerKeyPair() }));
    try {
      const exported = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name).filter((name) => name.startsWith('anweddol_')));
      assert.deepEqual([...queried].sort(), [...exported].sort());
    } finally {
      metrics.close();
    }
  });

  it('gives every panel a title, and every graph a query', () => {
    for (const panel of dashboard.panels) {
      assert.ok(panel.title.length > 0);
      if (panel.type !== 'row') assert.ok((panel.targets ?? []).length > 0, `${panel.title} has no query`);
    }
  });
});
