// Where a CREATE's sandbox comes from: a ready pool sandbox when there is one (or one is about to be), else a cold one.
import { generateSshPassword, generateUsername, generateUuid } from '../../crypto/tokens.js';
import type { VirtualizationInterface } from '../../virtualization/virtualization-interface.js';
import { unavailable } from '../errors.js';
import type { SandboxCapacity } from '../sandbox-capacity.js';
import type { ServerObserver } from '../server-observer.js';
import type { PooledSandbox, WarmPool } from './warm-pool.js';

/** A sandbox about to become a client's, with the slot it holds until its session row exists (the caller releases it). */
export interface ObtainedSandbox extends PooledSandbox {
  source: 'cold' | 'pool';
}

export interface SandboxSources {
  pool?: WarmPool;
  capacity: SandboxCapacity;
  virtualization: VirtualizationInterface;
  createTimeoutMs: number;
  observer?: Pick<ServerObserver, 'refused'>;
}

/** Never fails only because the pool is empty: then it creates cold, within the free capacity. */
export async function obtainSandbox({ pool, capacity, virtualization, createTimeoutMs, observer }: SandboxSources): Promise<ObtainedSandbox> {
  const pooled = await pool?.claimOrWait();
  if (pooled !== undefined) return { ...pooled, source: 'pool' };
  const containerUuid = generateUuid();
  const slot = capacity.tryReserve(containerUuid);
  if (slot === undefined) {
    observer?.refused?.('capacity');
    throw unavailable('Maximum number of sandboxes reached');
  }
  try {
    const username = generateUsername();
    const password = generateSshPassword();
    const timeout = AbortSignal.timeout(createTimeoutMs);
    const sandbox = await virtualization.create({ uuid: containerUuid, username, password }, timeout).catch((error: unknown) => {
      throw timeout.aborted ? unavailable('sandbox creation timed out') : error;
    });
    return { sandbox, username, password, slot, source: 'cold' };
  } catch (error) {
    slot.release();
    throw error;
  }
}
