// Whether the engine can enforce a per-sandbox disk limit: decided from its storage driver, proven by a probe where the driver alone cannot tell.
import type Docker from 'dockerode';
import { BackendConfigurationError, DiskLimitUnsupportedError } from '../virtualization-errors.js';
import { statusCode } from './docker-engine.js';
import { storageOptions } from './container-spec.js';

const MiB = 1024 * 1024;
/** Room a sandbox needs above its image: the client's home, host keys, logs. */
const MIN_WRITABLE_MiB = 64;

export type DiskLimitVerdict =
  | { kind: 'enforced' }
  /** overlay2 on XFS enforces it only when the filesystem is mounted with pquota, which `docker info` does not show. */
  | { kind: 'probe' }
  | { kind: 'unsupported'; driver: string; detail: string };

/** From `docker info`: btrfs and zfs enforce `--storage-opt size=`, overlay2 only on XFS, every other driver never. */
export function diskLimitVerdict(info: { Driver?: string; DriverStatus?: Array<[string, string]> }): DiskLimitVerdict {
  const driver = info.Driver ?? 'unknown';
  if (driver === 'btrfs' || driver === 'zfs') return { kind: 'enforced' };
  const backing = info.DriverStatus?.find(([key]) => key === 'Backing Filesystem')?.[1];
  if (driver === 'overlay2' && backing === 'xfs') return { kind: 'probe' };
  return { kind: 'unsupported', driver, detail: backing === undefined ? driver : `${driver} on ${backing}` };
}

/** Throws DiskLimitUnsupportedError when sandboxes of `diskLimitMiB` cannot be capped on this engine. */
export async function assertDiskLimitSupported(docker: Docker, image: string, diskLimitMiB: number): Promise<void> {
  const info = (await docker.info()) as { Driver?: string; DriverStatus?: Array<[string, string]> };
  const verdict = diskLimitVerdict(info);
  if (verdict.kind === 'unsupported') throw new DiskLimitUnsupportedError(verdict.driver, verdict.detail);
  if (verdict.kind === 'probe') await probeStorageOpt(docker, image, diskLimitMiB);
  if (info.Driver === 'btrfs') await assertRoomAboveImage(docker, image, diskLimitMiB);
}

/** btrfs caps what a container's subvolume references, the image included: a limit below the image fails every create. */
export async function assertRoomAboveImage(docker: Docker, image: string, diskLimitMiB: number): Promise<void> {
  const size = await docker
    .getImage(image)
    .inspect()
    .then((info) => info.Size, (error: unknown) => {
      // No image yet: creating a sandbox fails anyway, and `start --check` says so on its own line.
      if (statusCode(error) === 404) return undefined;
      throw error;
    });
  if (size === undefined) return;
  const imageMiB = Math.ceil(size / MiB);
  if (diskLimitMiB < imageMiB + MIN_WRITABLE_MiB) {
    throw new BackendConfigurationError(
      `a disk limit of ${diskLimitMiB} MiB leaves no room to write: on btrfs it counts the sandbox image (${imageMiB} MiB) too; allow at least ${imageMiB + MIN_WRITABLE_MiB} MiB`,
    );
  }
}

/** Creates (never starts) a container with the size option: the driver refuses it at create time when it cannot enforce it. */
async function probeStorageOpt(docker: Docker, image: string, diskLimitMiB: number): Promise<void> {
  let container: Docker.Container | undefined;
  try {
    container = await docker.createContainer({ Image: image, Cmd: ['true'], Labels: { 'anweddol.probe': 'disk-limit' }, HostConfig: { ...storageOptions(diskLimitMiB) } });
  } catch (error) {
    // No image yet: creating a sandbox fails anyway, and `start --check` says so on its own line.
    if (statusCode(error) === 404) return;
    if (/storage-opt|pquota|quota/i.test(String((error as Error).message))) throw new DiskLimitUnsupportedError('overlay2', 'overlay2 on xfs without pquota');
    throw error;
  } finally {
    await container?.remove({ force: true }).catch(() => {});
  }
}
