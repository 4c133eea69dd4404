// Whether a host can serve swarm's routing mesh: IPVS loaded, built in, or loadable, read from a kernel layout the test writes.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ipvsAvailable } from '../../../src/virtualization/swarm/routing-mesh.js';

const root = mkdtempSync(join(tmpdir(), 'anweddol-ipvs-'));
after(() => rmSync(root, { recursive: true, force: true }));

let count = 0;
/** A fresh kernel layout: /proc/net/ip_vs if `loaded`, and the module folder with what `modules` puts there. */
function kernel(options: { loaded?: boolean; modules?: Record<string, string> } = {}): { procIpVs: string; modulesDir: string } {
  const dir = join(root, String(count++));
  const modulesDir = join(dir, 'lib/modules/6.1.0');
  mkdirSync(modulesDir, { recursive: true });
  const procIpVs = join(dir, 'proc/net/ip_vs');
  if (options.loaded === true) {
    mkdirSync(join(dir, 'proc/net'), { recursive: true });
    writeFileSync(procIpVs, 'IP Virtual Server version 1.2.1\n');
  }
  for (const [path, text] of Object.entries(options.modules ?? {})) {
    mkdirSync(join(modulesDir, path, '..'), { recursive: true });
    writeFileSync(join(modulesDir, path), text);
  }
  return { procIpVs, modulesDir };
}

describe('IPVS for the routing mesh', () => {
  it('is missing on a kernel with neither the module loaded, built in, nor on disk', () => {
    assert.equal(ipvsAvailable(kernel({ modules: { 'modules.builtin': 'kernel/net/netfilter/nf_conntrack.ko\n' } })), false);
  });

  it('is there once the module is loaded', () => {
    assert.equal(ipvsAvailable(kernel({ loaded: true })), true);
  });

  it('is there when built into the kernel', () => {
    assert.equal(ipvsAvailable(kernel({ modules: { 'modules.builtin': 'kernel/net/netfilter/ipvs/ip_vs.ko\n' } })), true);
  });

  it('is there when the module can be loaded (compressed or not)', () => {
    assert.equal(ipvsAvailable(kernel({ modules: { 'kernel/net/netfilter/ipvs/ip_vs.ko.xz': '' } })), true);
  });
});
