// The sandboxes' seccomp profile, derived from Docker's default one: every ioctl stays allowed except btrfs's (pure, no I/O).
import { BackendConfigurationError } from '../virtualization-errors.js';

/** The type byte (bits 8-15 of the request) of every btrfs ioctl: BTRFS_IOCTL_MAGIC. */
export const BTRFS_IOCTL_TYPE = 0x94;

/** One entry of a profile's `syscalls`, as Docker reads it (only what the derivation looks at is typed). */
export interface SeccompRule {
  names?: string[];
  name?: string;
  action: string;
  args?: SeccompArg[] | null;
  includes?: Record<string, unknown> | null;
  excludes?: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo: number;
  op: string;
}

export interface SeccompProfile {
  defaultAction: string;
  syscalls: SeccompRule[];
  [key: string]: unknown;
}

/** The base profile cannot be turned into ours: the message names what is wrong with it. */
export class SeccompProfileError extends BackendConfigurationError {
  constructor(message: string) {
    super(message, 'SECCOMP_PROFILE');
  }
}

/**
 * A nested btrfs subvolume gets a qgroup of its own, outside the container's disk limit, and any user may create one
 * (BTRFS_IOC_SUBVOL_CREATE). seccomp cannot deny it while an unconditional ioctl allow stands (an allow wins over a
 * conditional errno), so ioctl is allowed only for request types other than btrfs's: runc turns several conditions on
 * one argument into separate rules, OR'ed, one per permitted type byte.
 */
export function ioctlAllowRule(): SeccompRule {
  const args: SeccompArg[] = [];
  for (let type = 0; type < 256; type++) {
    if (type !== BTRFS_IOCTL_TYPE) args.push({ index: 1, value: 0xff00, valueTwo: type << 8, op: 'SCMP_CMP_MASKED_EQ' });
  }
  return { names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args };
}

/** Derives the sandboxes' profile from a base (Docker's default); refuses a base it cannot reason about, naming why. */
export function deriveSandboxProfile(base: unknown): SeccompProfile {
  if (!isProfile(base)) throw new SeccompProfileError('not a Docker seccomp profile (an object with defaultAction and a syscalls list)');
  if (base.defaultAction === 'SCMP_ACT_ALLOW') throw new SeccompProfileError('its defaultAction is SCMP_ACT_ALLOW: removing ioctl from its allow list would not deny it');
  const ioctlRules = base.syscalls.filter((rule) => namesOf(rule).includes('ioctl'));
  const unconditional = ioctlRules.filter((rule) => rule.action === 'SCMP_ACT_ALLOW' && isUnconditional(rule));
  if (unconditional.length !== 1 || ioctlRules.length !== 1) {
    throw new SeccompProfileError(
      `expected exactly one rule naming ioctl, an unconditional SCMP_ACT_ALLOW (Docker's default profile); found ${ioctlRules.length} naming it, ${unconditional.length} of them unconditional allows`,
    );
  }
  const syscalls = base.syscalls.flatMap((rule) => {
    if (rule !== unconditional[0]) return [rule];
    const names = namesOf(rule).filter((name) => name !== 'ioctl');
    const { name: _legacy, ...rest } = rule;
    return names.length === 0 ? [] : [{ ...rest, names }];
  });
  return { ...base, syscalls: [...syscalls, ioctlAllowRule()] };
}

function isProfile(value: unknown): value is SeccompProfile {
  if (typeof value !== 'object' || value === null) return false;
  const profile = value as Partial<SeccompProfile>;
  return (
    typeof profile.defaultAction === 'string' &&
    Array.isArray(profile.syscalls) &&
    profile.syscalls.every((rule: unknown) => typeof rule === 'object' && rule !== null && typeof (rule as SeccompRule).action === 'string')
  );
}

function namesOf(rule: SeccompRule): string[] {
  return [...(Array.isArray(rule.names) ? rule.names : []), ...(typeof rule.name === 'string' ? [rule.name] : [])];
}

/** No argument condition and no kernel, capability or architecture filter: it applies to every call. */
function isUnconditional(rule: SeccompRule): boolean {
  const empty = (filter: Record<string, unknown> | null | undefined) => filter == null || Object.values(filter).every((v) => v == null || (Array.isArray(v) ? v.length === 0 : v === '' || v === 0));
  return (rule.args == null || rule.args.length === 0) && empty(rule.includes) && empty(rule.excludes);
}
