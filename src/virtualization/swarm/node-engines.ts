// How the daemon reaches each swarm node's own engine (exec, files, images, networks): configured endpoints by hostname or node id, the manager by docker.host.
import type Docker from 'dockerode';
import { dockerFromHost } from '../docker/docker-engine.js';
import type { SwarmNode } from './swarm-state.js';

export interface NodeEndpoint {
  /** `unix:///…` or `tcp://host:port`. */
  docker: string;
}

export class NodeEngines {
  private readonly byKey = new Map<string, Docker>();
  private managerNodeId: string | undefined;

  /** `endpoints` keyed by node hostname or node id; the manager's own node needs none (docker.host reaches it). */
  constructor(
    private readonly manager: Docker,
    endpoints: Readonly<Record<string, NodeEndpoint>>,
  ) {
    for (const [key, endpoint] of Object.entries(endpoints)) this.byKey.set(key, dockerFromHost(endpoint.docker));
  }

  /** Learnt from the manager's `docker info` at each connection. */
  setManagerNodeId(id: string | undefined): void {
    this.managerNodeId = id;
  }

  /** The node's engine, or undefined when the daemon has no way to reach it (the node then gets no sandboxes). */
  engineOf(node: Pick<SwarmNode, 'id' | 'hostname'>): Docker | undefined {
    return this.byKey.get(node.id) ?? this.byKey.get(node.hostname) ?? (node.id === this.managerNodeId ? this.manager : undefined);
  }
}
