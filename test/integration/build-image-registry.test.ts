// `build-image` with `swarm.registry`: the real CLI builds (or reuses) the sandbox image and pushes it to a real docker-registry on loopback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dockerFromHost } from '../../src/virtualization/docker/docker-engine.js';
import { resolveServiceImage } from '../../src/virtualization/swarm/image-reference.js';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { docker, dockerHost, SANDBOX_IMAGE } from '../helpers/docker-sandbox.js';
import { startLocalRegistry, type LocalRegistry } from '../helpers/local-registry.js';

let registry: LocalRegistry | undefined;
const installs: TestInstall[] = [];

before(async () => {
  registry = await startLocalRegistry();
});

after(async () => {
  // The registry's tag of the image only: the image itself is the shared sandbox image.
  if (registry !== undefined) docker(['rmi', `${registry.address}/anweddol/sandbox:latest`]);
  await registry?.stop();
  for (const install of installs) install.remove();
});

async function buildImage(registryAddress: string): Promise<ReturnType<typeof runCli>> {
  const install = await createTestInstall({ docker: { host: dockerHost() }, swarm: { registry: registryAddress } });
  installs.push(install);
  return runCli(['build-image', '--json', '--config', install.configPath], { timeoutMs: 600_000 });
}

describe('build-image with a registry', () => {
  it('pushes the built image and prints the digest reference swarm services use', async () => {
    const run = await buildImage(registry!.address);
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    const out = jsonOf(run);
    const reference = String(out.data.registry_reference);
    assert.match(reference, new RegExp(`^${registry!.address.replace(/\./g, '\\.')}/anweddol/sandbox@sha256:[0-9a-f]{64}$`));
    assert.equal(out.data.image_id, docker(['image', 'inspect', '--format', '{{.Id}}', SANDBOX_IMAGE]));
    assert.equal(await resolveServiceImage(dockerFromHost(dockerHost()), SANDBOX_IMAGE, registry!.address), reference);
  });

  it('fails with one line naming the registry when it does not answer', async () => {
    const gone = await startLocalRegistry();
    await gone.stop();
    const run = await buildImage(gone.address);
    assert.equal(run.code, 1);
    const out = jsonOf(run);
    assert.equal(out.status, 'ERROR');
    assert.ok(out.message.startsWith(`push to the registry ${gone.address} failed: `), out.message);
  });
});
