// Whether this host can serve swarm's ingress routing mesh (`swarm.publish: ingress`): the mesh balances published ports with IPVS.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';

/** How services publish sandbox ports: `host` on the node that runs the task; `ingress` on every node, through the routing mesh. */
export type PublishMode = 'host' | 'ingress';

/** Where the daemon reaches a port the routing mesh publishes: it runs on a node, and the mesh answers on every node's addresses. */
export const LOCAL_MESH_ADDRESS = '127.0.0.1';

/** Where this host's kernel says whether it has IPVS (tests point them elsewhere). */
export interface IpvsProbePaths {
  /** Present once the ip_vs module is loaded (or built in). */
  procIpVs: string;
  /** The kernel's module folder (`/lib/modules/<release>`): ip_vs as a loadable module, or listed as built in. */
  modulesDir: string;
}

export const HOST_IPVS_PATHS: IpvsProbePaths = { procIpVs: '/proc/net/ip_vs', modulesDir: `/lib/modules/${release()}` };

/** IPVS is loaded, built in, or can be loaded (dockerd loads it when the mesh needs it). */
export function ipvsAvailable(paths: IpvsProbePaths = HOST_IPVS_PATHS): boolean {
  if (existsSync(paths.procIpVs)) return true;
  const builtin = `${paths.modulesDir}/modules.builtin`;
  if (existsSync(builtin) && /\/ip_vs\.ko$/m.test(readFileSync(builtin, 'utf8'))) return true;
  return ['ip_vs.ko', 'ip_vs.ko.xz', 'ip_vs.ko.zst', 'ip_vs.ko.gz'].some((name) => existsSync(`${paths.modulesDir}/kernel/net/netfilter/ipvs/${name}`));
}

/** The refusal when `ingress` is asked of a host without IPVS: the mesh would publish ports that answer nothing. */
export const NO_IPVS_MESSAGE =
  'swarm.publish: ingress, but this host has no IPVS (no /proc/net/ip_vs, no ip_vs kernel module), which the routing mesh needs; use swarm.publish: host (the daemon forwards each port)';
