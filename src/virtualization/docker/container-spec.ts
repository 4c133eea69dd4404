// The container a sandbox runs in, as dockerode create options: hardening, limits, labels, network, storage and ulimits (pure, no Docker).
import type Docker from 'dockerode';
import type { SandboxSpec } from '../virtualization-interface.js';

export const SERVER_LABEL = 'anweddol.server';
export const UUID_LABEL = 'anweddol.uuid';
export const PORT_LABEL = 'anweddol.port';
/** What sshd (privilege separation, PAM, logins) and the endpoint setup need; everything else is dropped. */
export const SANDBOX_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'SYS_CHROOT', 'NET_BIND_SERVICE', 'AUDIT_WRITE', 'KILL'];

/** Most of a sandbox's container log (sshd's output) kept on the host. */
export const CONTAINER_LOG_MAX_SIZE = '1m';

export interface SandboxLimits {
  memoryMiB: number;
  vcpus: number;
  pidsLimit: number;
  /** Open files per process (RLIMIT_NOFILE, soft = hard). */
  nofileLimit: number;
  /** Processes per user (RLIMIT_NPROC, soft = hard). The kernel counts it per UID across the host, not per sandbox. */
  nprocLimit: number;
  /** Writable layer size in MiB (`--storage-opt size=`); null: no limit. */
  diskLimitMiB: number | null;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  memoryMiB: 1024,
  vcpus: 2,
  pidsLimit: 256,
  nofileLimit: 4096,
  nprocLimit: 4096,
  diskLimitMiB: null,
};

export interface ContainerSettings {
  image: string;
  /** Ownership label value: what this server created, lists and cleans up. */
  serverId: string;
  networkName: string;
  /** Address the forwarded SSH port binds to. */
  publishedAddress: string;
  /** Passwordless sudo for the client: no-new-privileges and the capability drop would forbid it. */
  clientSudo: boolean;
  /** seccomp profile JSON every sandbox runs under (seccomp-profile.ts: no btrfs ioctls); null: Docker's built-in profile. */
  seccompProfile: string | null;
  limits: SandboxLimits;
}

/** Fills in defaults and refuses limits Docker would reject late (or that would leave a sandbox unusable). */
export function resolveLimits(limits: Partial<SandboxLimits>): SandboxLimits {
  const resolved = { ...DEFAULT_LIMITS, ...definedOnly(limits) };
  if (!(resolved.memoryMiB >= 6)) throw new RangeError('memoryMiB must be ≥ 6');
  if (!(resolved.vcpus > 0)) throw new RangeError('vcpus must be > 0');
  if (!Number.isInteger(resolved.pidsLimit) || resolved.pidsLimit < 16) throw new RangeError('pidsLimit must be an integer ≥ 16');
  if (!Number.isInteger(resolved.nofileLimit) || resolved.nofileLimit < 64) throw new RangeError('nofileLimit must be an integer ≥ 64');
  if (!Number.isInteger(resolved.nprocLimit) || resolved.nprocLimit < 16) throw new RangeError('nprocLimit must be an integer ≥ 16');
  if (resolved.diskLimitMiB !== null && (!Number.isInteger(resolved.diskLimitMiB) || resolved.diskLimitMiB < 64)) {
    throw new RangeError('diskLimitMiB must be an integer ≥ 64 or null');
  }
  return resolved;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The labels every sandbox carries; the ownership label is set last so a spec's extra labels cannot forge it. */
export function sandboxLabels(settings: ContainerSettings, spec: SandboxSpec, port: number): Record<string, string> {
  return {
    ...(spec.labels ?? {}),
    [SERVER_LABEL]: settings.serverId,
    [UUID_LABEL]: spec.uuid,
    [PORT_LABEL]: String(port),
  };
}

/** The `HostConfig.StorageOpt` that caps the writable layer, or nothing when there is no disk limit. */
export function storageOptions(diskLimitMiB: number | null): { StorageOpt?: Record<string, string> } {
  return diskLimitMiB === null ? {} : { StorageOpt: { size: `${diskLimitMiB}M` } };
}

/** Label of an image whose entrypoint makes the client login itself (iso/entrypoint.sh): no `docker exec` on the create path. */
export const PROVISIONING_LABEL = 'anweddol.provisioning';

/**
 * How the client login is made: `entrypoint` (the image says it can) before sshd starts, from the user name in the
 * environment and the password written once to the container's stdin; `exec`: `docker exec` of the setup script.
 */
export type Provisioning = 'entrypoint' | 'exec';

/** What the container needs for its entrypoint to make the login: stdin open for one attach, the user name (not secret). */
function entrypointLogin(settings: ContainerSettings, spec: SandboxSpec): Partial<Docker.ContainerCreateOptions> {
  return {
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    Env: [`ANWEDDOL_CLIENT_USER=${spec.username}`, ...(settings.clientSudo ? ['ANWEDDOL_CLIENT_SUDO=1'] : [])],
  };
}

/** The profile applies with sudo too: root in the sandbox could otherwise escape the disk limit the same way. */
function securityOptions(settings: ContainerSettings): { SecurityOpt?: string[] } {
  const options = [...(settings.seccompProfile === null ? [] : [`seccomp=${settings.seccompProfile}`]), ...(settings.clientSudo ? [] : ['no-new-privileges'])];
  return options.length === 0 ? {} : { SecurityOpt: options };
}

export function buildContainerSpec(settings: ContainerSettings, spec: SandboxSpec, port: number, provisioning: Provisioning = 'exec'): Docker.ContainerCreateOptions {
  const { limits } = settings;
  const memoryBytes = limits.memoryMiB * 1024 * 1024;
  return {
    Image: settings.image,
    name: `anweddol-${spec.uuid}`,
    Hostname: 'sandbox',
    Labels: sandboxLabels(settings, spec, port),
    ExposedPorts: { '22/tcp': {} },
    ...(provisioning === 'entrypoint' ? entrypointLogin(settings, spec) : {}),
    HostConfig: {
      // Swap equal to memory: no swap on top of the limit.
      Memory: memoryBytes,
      MemorySwap: memoryBytes,
      NanoCpus: Math.round(limits.vcpus * 1e9),
      PidsLimit: limits.pidsLimit,
      Ulimits: [
        { Name: 'nofile', Soft: limits.nofileLimit, Hard: limits.nofileLimit },
        { Name: 'nproc', Soft: limits.nprocLimit, Hard: limits.nprocLimit },
      ],
      ...storageOptions(limits.diskLimitMiB),
      NetworkMode: settings.networkName,
      PortBindings: { '22/tcp': [{ HostIp: settings.publishedAddress, HostPort: String(port) }] },
      RestartPolicy: { Name: 'no' },
      // sshd logs every connection attempt from anyone to the container log, which lives outside the disk limit: cap it.
      LogConfig: { Type: 'json-file', Config: { 'max-size': CONTAINER_LOG_MAX_SIZE, 'max-file': '1' } },
      ...securityOptions(settings),
      ...(settings.clientSudo ? {} : { CapDrop: ['ALL'], CapAdd: SANDBOX_CAPABILITIES }),
    },
  };
}
