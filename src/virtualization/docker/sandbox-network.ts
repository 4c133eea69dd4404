// The user-defined bridge sandboxes live on: created once with inter-container traffic disabled, then described for host-side policy.
import type Docker from 'dockerode';
import { BackendConfigurationError } from '../virtualization-errors.js';
import type { SandboxNetworkInfo } from '../virtualization-interface.js';
import { statusCode } from './docker-engine.js';

const ICC_OPTION = 'com.docker.network.bridge.enable_icc';
const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';

const OWNER_LABEL = 'anweddol.server';

/** Not --internal: on an internal network `-p` publishes nothing. The network is labelled with the server that created it. */
export async function ensureSandboxNetwork(docker: Docker, name: string, serverId: string): Promise<SandboxNetworkInfo> {
  let info = await inspectNetwork(docker, name);
  if (info === undefined) {
    try {
      await docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        Internal: false,
        Options: { [ICC_OPTION]: 'false' },
        Labels: { 'anweddol.network': 'sandboxes', [OWNER_LABEL]: serverId },
      });
    } catch (error) {
      // Another server created it at the same moment.
      if (statusCode(error) !== 409) throw error;
    }
    info = await docker.getNetwork(name).inspect();
  }
  return describeSandboxNetwork(info);
}

/**
 * Removes the network at stop when this server created it and no container is attached any more (sandboxes kept by
 * `destroy_on_stop: false` keep it). A shared or foreign network is left alone; failures only mean it stays.
 */
export async function releaseSandboxNetwork(docker: Docker, name: string, serverId: string): Promise<boolean> {
  const info = await inspectNetwork(docker, name);
  if (info === undefined || info.Labels?.[OWNER_LABEL] !== serverId) return false;
  if (Object.keys(info.Containers ?? {}).length > 0) return false;
  try {
    await docker.getNetwork(name).remove();
    return true;
  } catch (error) {
    // 403/409: a container attached meanwhile; 404: already gone.
    if ([403, 404, 409].includes(statusCode(error) ?? 0)) return false;
    throw error;
  }
}

async function inspectNetwork(docker: Docker, name: string): Promise<Docker.NetworkInspectInfo | undefined> {
  return docker.getNetwork(name).inspect().catch((error: unknown) => {
    if (statusCode(error) === 404) return undefined;
    throw error;
  });
}

/** Checks the network is one sandboxes may share and names its bridge, subnet and gateway. */
export function describeSandboxNetwork(info: Docker.NetworkInspectInfo): SandboxNetworkInfo {
  if (info.Driver !== 'bridge' || info.Options?.[ICC_OPTION] !== 'false') {
    throw new BackendConfigurationError(`network ${info.Name} exists without ${ICC_OPTION}=false; remove it or pick another name`);
  }
  const ipv4 = (info.IPAM?.Config ?? []).find((c) => c.Subnet !== undefined && !c.Subnet.includes(':'));
  if (ipv4?.Subnet === undefined || ipv4.Gateway === undefined) {
    throw new BackendConfigurationError(`network ${info.Name} has no IPv4 subnet and gateway`);
  }
  return {
    name: info.Name,
    // Docker names the bridge br-<first 12 hex of the network id> unless the network sets a name.
    bridge: info.Options?.[BRIDGE_NAME_OPTION] ?? `br-${info.Id.slice(0, 12)}`,
    subnet: ipv4.Subnet,
    gateway: ipv4.Gateway,
    ipv6: info.EnableIPv6 === true,
  };
}
