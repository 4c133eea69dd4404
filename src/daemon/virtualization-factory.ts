// The sandbox backend the daemon uses, built from the `docker`, `container` and `port_forwarding` sections.
import { sha256Hex } from '../crypto/hash.js';
import type { Logger } from '../shared/logger.js';
import { DockerVirtualization } from '../virtualization/docker/docker-virtualization.js';
import type { VirtualizationInterface } from '../virtualization/virtualization-interface.js';
import type { AnweddolConfig } from './config/config-schema.js';

/** Containers are labelled per database file: a restarted daemon reclaims its own, two daemons never mix. */
export function serverIdFor(config: AnweddolConfig): string {
  return `anweddol-${sha256Hex(config.database.file_path).slice(0, 12)}`;
}

export function createVirtualization(config: AnweddolConfig, logger: Logger): VirtualizationInterface {
  const c = config.container;
  return new DockerVirtualization({
    dockerHost: config.docker.host,
    image: c.image,
    serverId: serverIdFor(config),
    publishedAddress: c.published_address,
    portRange: config.port_forwarding.port_range,
    memoryMiB: c.container_memory,
    vcpus: c.container_vcpus,
    pidsLimit: c.pids_limit,
    readyTimeoutSeconds: c.ready_timeout,
    clientSudo: c.client_sudo,
    networkName: c.network_name ?? undefined,
    logger,
  });
}
