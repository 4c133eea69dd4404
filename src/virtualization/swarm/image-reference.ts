// The sandbox image on a swarm: pushed to the manager's registry, and referenced by digest so every node runs the same bytes.
import type Docker from 'dockerode';
import { BackendConfigurationError } from '../virtualization-errors.js';

/** An image in the registry, named by content. */
export interface PushedImage {
  /** `registry/repository@sha256:…`: what services reference. */
  reference: string;
  /** `sha256:…` of the manifest. */
  digest: string;
  /** The local image id (`sha256:…`) that was pushed. */
  imageId: string;
}

/** The image has not been pushed to the registry as it is now (never, or rebuilt since): services could not name it by digest. */
export class ImageNotInRegistryError extends BackendConfigurationError {
  constructor(image: string, registry: string) {
    super(`image ${image} is not in the registry ${registry} as built now; run \`anweddol-server build-image\` to push it`, 'IMAGE_NOT_IN_REGISTRY');
  }
}

/** The registry refused or failed the push (unreachable, not insecure-allowed, full disk …). */
export class ImagePushError extends BackendConfigurationError {
  constructor(registry: string, detail: string) {
    super(`push to the registry ${registry} failed: ${detail}`, 'IMAGE_PUSH_FAILED');
  }
}

const REGISTRY = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:]+\](:\d{1,5})?$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `host:port` of a registry, checked (no scheme, no path): what `swarm.registry` holds. */
export function assertRegistryAddress(registry: string): void {
  if (!REGISTRY.test(registry)) throw new RangeError(`registry must be host or host:port, got ${JSON.stringify(registry)}`);
}

/** The repository and tag of a local image name (`anweddol/sandbox:latest` → anweddol/sandbox, latest); a digest-named image is refused. */
export function splitImageName(image: string): { repository: string; tag: string } {
  if (image.includes('@')) throw new RangeError(`image ${JSON.stringify(image)} is already named by digest`);
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? { repository: image.slice(0, colon), tag: image.slice(colon + 1) } : { repository: image, tag: 'latest' };
}

/** Where the image lives in the registry: `10.240.0.1:5000/anweddol/sandbox`. */
export function registryRepository(registry: string, image: string): string {
  assertRegistryAddress(registry);
  return `${registry}/${splitImageName(image).repository}`;
}

/** The digest reference of `image` among an image's RepoDigests (docker records one per registry it was pushed to or pulled from). */
export function digestReferenceIn(repoDigests: readonly string[] | undefined, registry: string, image: string): string | undefined {
  const prefix = `${registryRepository(registry, image)}@`;
  return repoDigests?.find((entry) => entry.startsWith(prefix) && DIGEST.test(entry.slice(prefix.length)));
}

/**
 * What the swarm backend puts in a service's image: the registry digest reference of the image as it is now when a
 * registry is configured (ImageNotInRegistryError when it was not pushed since it was built), else the image name itself
 * (every node must then hold that image already).
 */
export async function resolveServiceImage(docker: Docker, image: string, registry: string | null): Promise<string> {
  if (registry === null) return image;
  const info = await docker.getImage(image).inspect();
  const reference = digestReferenceIn(info.RepoDigests, registry, image);
  if (reference === undefined) throw new ImageNotInRegistryError(image, registry);
  return reference;
}

/** Tags `image` into the registry's repository and pushes it; resolves to its digest reference. */
export async function pushImageToRegistry(docker: Docker, image: string, registry: string, onProgress?: (line: string) => void): Promise<PushedImage> {
  const repository = registryRepository(registry, image);
  const { tag } = splitImageName(image);
  const local = docker.getImage(image);
  const { Id: imageId } = await local.inspect();
  await local.tag({ repo: repository, tag });
  const messages = await pushMessages(docker, `${repository}:${tag}`, tag, onProgress).catch((error: unknown) => {
    throw new ImagePushError(registry, error instanceof Error ? error.message : String(error));
  });
  const failed = messages.find((m) => m.error !== undefined);
  if (failed !== undefined) throw new ImagePushError(registry, failed.error!);
  const digest = messages.map((m) => m.aux?.Digest).find((d) => d !== undefined && DIGEST.test(d));
  if (digest === undefined) throw new ImagePushError(registry, 'the registry reported no digest');
  return { reference: `${repository}@${digest}`, digest, imageId };
}

type PushMessage = { error?: string; status?: string; aux?: { Digest?: string } };

/** Every progress message of one push (docker reports most failures inside the stream, not as an HTTP error). */
async function pushMessages(docker: Docker, name: string, tag: string, onProgress?: (line: string) => void): Promise<PushMessage[]> {
  // The registry is anonymous (a private address on the swarm network): an empty auth header is what dockerd expects then.
  const stream = (await docker.getImage(name).push({ tag, authconfig: {} })) as NodeJS.ReadableStream;
  return new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (error: Error | null, output: unknown[]) => (error ? reject(error) : resolve(output as PushMessage[])), (event: PushMessage) => {
      if (event.status !== undefined) onProgress?.(event.status);
    }),
  );
}
