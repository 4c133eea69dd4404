// Errors of the sandbox backend that are not "unavailable": a refused destroy and an engine that cannot run sandboxes as configured.
import { AnweddolError } from '../shared/errors.js';

/** `destroy(id)` named a container this server did not create (no ownership label of ours): it is left alone. */
export class ForeignContainerError extends AnweddolError {
  constructor(readonly containerId: string) {
    super('FOREIGN_CONTAINER', `container ${JSON.stringify(containerId.slice(0, 64))} is not a sandbox of this server; not removed`);
  }
}

/** The engine answers but cannot run sandboxes as configured: starting anyway would hand out sandboxes without a promised limit. */
export class BackendConfigurationError extends AnweddolError {
  constructor(message: string, code = 'BACKEND_CONFIGURATION') {
    super(code, message);
  }
}

/** The engine's storage driver cannot enforce a per-sandbox disk limit (`--storage-opt size=`). */
export class DiskLimitUnsupportedError extends BackendConfigurationError {
  constructor(readonly driver: string, readonly detail: string) {
    super(`Docker storage driver ${detail} cannot enforce a per-sandbox disk limit (needs btrfs, zfs, or overlay2 on XFS mounted with pquota)`, 'DISK_LIMIT_UNSUPPORTED');
  }
}
