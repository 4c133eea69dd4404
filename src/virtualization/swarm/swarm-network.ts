// The sandbox network on a swarm: a swarm-scoped bridge whose per-node settings (inter-container traffic off, a fixed bridge name) each node holds as a config-only network.
import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { statusCode } from '../docker/docker-engine.js';
import { describeSandboxNetwork } from '../docker/sandbox-network.js';
import type { SandboxNetworkInfo } from '../virtualization-interface.js';

const ICC_OPTION = 'com.docker.network.bridge.enable_icc';
const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
const OWNER_LABEL = 'anweddol.server';

/** Interface names are at most 15 characters: a hash of the network name keeps two servers' bridges apart. */
export function sandboxBridgeName(networkName: string): string {
  return `anw-${createHash('sha256').update(networkName).digest('hex').slice(0, 10)}`;
}

export function configNetworkName(networkName: string): string {
  return `${networkName}-config`;
}

async function ignoreConflict(step: Promise<unknown>): Promise<void> {
  await step.catch((error: unknown) => {
    // Already there (a previous run, or another creation at the same moment).
    if (statusCode(error) !== 409) throw error;
  });
}

/** On one node's engine: the config-only network carrying the bridge options (created once, kept). */
export async function ensureNodeNetworkConfig(nodeDocker: Docker, networkName: string, serverId: string): Promise<void> {
  const name = configNetworkName(networkName);
  const existing = await nodeDocker.getNetwork(name).inspect().catch((error: unknown) => (statusCode(error) === 404 ? undefined : Promise.reject(error)));
  if (existing !== undefined) return;
  await ignoreConflict(
    nodeDocker.createNetwork({
      Name: name,
      ConfigOnly: true,
      CheckDuplicate: true,
      Options: { [ICC_OPTION]: 'false', [BRIDGE_NAME_OPTION]: sandboxBridgeName(networkName) },
      Labels: { 'anweddol.network': 'sandboxes-config', [OWNER_LABEL]: serverId },
    } as Docker.NetworkCreateOptions),
  );
}

/** On the manager: the swarm-scoped bridge services attach to; every node instantiates it from its config-only network. */
export async function ensureSwarmNetwork(manager: Docker, networkName: string): Promise<void> {
  const existing = await manager.getNetwork(networkName).inspect().catch((error: unknown) => (statusCode(error) === 404 ? undefined : Promise.reject(error)));
  if (existing !== undefined) return;
  await ignoreConflict(
    manager.createNetwork({
      Name: networkName,
      Driver: 'bridge',
      Scope: 'swarm',
      // Docker refuses any other setting (labels included) on a network built from a config-only one.
      ConfigFrom: { Network: configNetworkName(networkName) },
    } as Docker.NetworkCreateOptions),
  );
}

/** The network as one node instantiated it (once a task of ours ran there), or undefined before. */
export async function nodeSandboxNetwork(nodeDocker: Docker, networkName: string): Promise<SandboxNetworkInfo | undefined> {
  const info = await nodeDocker.getNetwork(networkName).inspect().catch((error: unknown) => (statusCode(error) === 404 ? undefined : Promise.reject(error)));
  if (info === undefined || (info.IPAM?.Config ?? []).length === 0) return undefined;
  // Inspected on the node, the swarm network carries its config-only network's options.
  return describeSandboxNetwork(info);
}
