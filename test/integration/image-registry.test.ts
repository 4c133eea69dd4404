// Image distribution for swarm: a real docker-registry on loopback, pushes from the project's dockerd, digest references that pull the same bytes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dockerFromHost } from '../../src/virtualization/docker/docker-engine.js';
import { ImageNotInRegistryError, ImagePushError, pushImageToRegistry, resolveServiceImage } from '../../src/virtualization/swarm/image-reference.js';
import { docker, dockerHost } from '../helpers/docker-sandbox.js';
import { startLocalRegistry, type LocalRegistry } from '../helpers/local-registry.js';

const repository = `anweddol-test/registry-${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'anweddol-registry-test-'));
let registry: LocalRegistry | undefined;

/** A one-file image of its own (imported, as the sandbox image is), so pushes stay small and nothing else's image is touched. */
function importTinyImage(name: string): string {
  const root = join(dir, randomBytes(4).toString('hex'));
  execFileSync('mkdir', ['-p', root]);
  writeFileSync(join(root, 'content'), randomBytes(64));
  execFileSync('tar', ['-C', root, '-cf', `${root}.tar`, '.']);
  return docker(['import', `${root}.tar`, name]);
}

/** Removes every local image of this file's (its plain tags and the registry's), by id, so nothing of it stays in the engine. */
function removeOurImages(): void {
  const ids = docker(['images', '--no-trunc', '--format', '{{.Repository}} {{.ID}}'])
    .split('\n')
    .filter((line) => line.includes(repository))
    .map((line) => line.split(' ')[1]!);
  if (ids.length > 0) docker(['rmi', '-f', ...new Set(ids)]);
}

let images = 0;
/** A fresh image name of this file's, with a fresh image under it. */
function freshImage(): string {
  const name = `${repository}-${++images}:v1`;
  importTinyImage(name);
  return name;
}

before(async () => {
  registry = await startLocalRegistry();
});

after(async () => {
  await registry?.stop();
  try {
    removeOurImages();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('the sandbox image in a registry', () => {
  const engine = () => dockerFromHost(dockerHost());

  it('refuses to name an image the registry does not hold, pointing at build-image', async () => {
    const image = freshImage();
    await assert.rejects(resolveServiceImage(engine(), image, registry!.address), (error: unknown) => {
      assert.ok(error instanceof ImageNotInRegistryError);
      assert.match(error.message, /build-image/);
      return true;
    });
  });

  it('names the image by its name alone when no registry is configured', async () => {
    assert.equal(await resolveServiceImage(engine(), 'anweddol/sandbox:latest', null), 'anweddol/sandbox:latest');
  });

  it('pushes the image and names it by digest in the registry, which is what services get', async () => {
    const image = freshImage();
    const pushed = await pushImageToRegistry(engine(), image, registry!.address);
    assert.equal(pushed.reference, `${registry!.address}/${image.replace(/:v1$/, '')}@${pushed.digest}`);
    assert.match(pushed.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await resolveServiceImage(engine(), image, registry!.address), pushed.reference);
  });

  it('pulls the same image id by that digest reference on an engine that no longer has it', async () => {
    const image = freshImage();
    const pushed = await pushImageToRegistry(engine(), image, registry!.address);
    removeOurImages();
    docker(['pull', pushed.reference]);
    assert.equal(docker(['image', 'inspect', '--format', '{{.Id}}', pushed.reference]), pushed.imageId);
  });

  it('does not name a rebuilt image by the digest of the old one', async () => {
    const image = freshImage();
    const old = await pushImageToRegistry(engine(), image, registry!.address);
    const rebuilt = importTinyImage(image);
    assert.notEqual(rebuilt, old.imageId);
    await assert.rejects(resolveServiceImage(engine(), image, registry!.address), ImageNotInRegistryError);
    const again = await pushImageToRegistry(engine(), image, registry!.address);
    assert.notEqual(again.digest, old.digest);
    assert.equal(await resolveServiceImage(engine(), image, registry!.address), again.reference);
  });

  it('reports a registry that does not answer as a push failure naming it', async () => {
    const image = freshImage();
    const stopped = await startLocalRegistry();
    await stopped.stop();
    await assert.rejects(pushImageToRegistry(engine(), image, stopped.address), (error: unknown) => {
      assert.ok(error instanceof ImagePushError);
      assert.ok(error.message.startsWith(`push to the registry ${stopped.address} failed: `), error.message);
      return true;
    });
  });
});
