// `container.seccomp_profile`: reads Docker's default profile once and derives the sandboxes' from it, or says in one line why it cannot.
import { readFileSync } from 'node:fs';
import { deriveSandboxProfile, SeccompProfileError } from '../virtualization/docker/seccomp-profile.js';
import type { AnweddolConfig } from './config/config-schema.js';

const FIX = "run scripts/setup.sh (it fetches Docker's default profile for the installed engine), point container.seccomp_profile at that file, or set it to null";

/** Without the profile a sandbox user can create a btrfs subvolume, whose writes escape the disk limit. */
export const NO_SECCOMP_PROFILE_WARNING =
  'container.seccomp_profile is null: sandboxes run under Docker\'s built-in seccomp profile, so a user in a sandbox can create btrfs subvolumes whose writes escape container.disk_limit';

/** The derived profile as the JSON text Docker's SecurityOpt takes; null when the key is null. Throws an Error naming the key and the fix. */
export function loadSandboxSeccompProfile(config: Pick<AnweddolConfig, 'container'>): string | null {
  const path = config.container.seccomp_profile;
  return path === null ? null : readSandboxSeccompProfile(path, 'container.seccomp_profile');
}

/** Reads a base profile at `path` and derives the sandboxes' (JSON text); errors start with `source`, what named the file. */
export function readSandboxSeccompProfile(path: string, source: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${source}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); ${FIX}`, { cause: error });
  }
  try {
    return JSON.stringify(deriveSandboxProfile(JSON.parse(text)));
  } catch (error) {
    const why = error instanceof SeccompProfileError ? error.message : 'not valid JSON';
    throw new Error(`${source}: ${path} is unusable: ${why}; ${FIX}`, { cause: error });
  }
}

/** The start warnings about the profile: only where it matters, a disk limit on a single engine (a swarm node's dockerd carries its own). */
export function seccompProfileWarnings(config: Pick<AnweddolConfig, 'container' | 'docker'>): string[] {
  const { seccomp_profile: profile, disk_limit: limit } = config.container;
  return profile === null && limit !== null && config.docker.mode === 'engine' ? [NO_SECCOMP_PROFILE_WARNING] : [];
}
