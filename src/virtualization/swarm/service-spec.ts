// The swarm service a sandbox runs as (pure, no Docker): one replica, never restarted, the engine backend's labels, hardening and limits, placement from config.
import type Docker from 'dockerode';
import type { SandboxSpec } from '../virtualization-interface.js';
import type { PublishMode } from './routing-mesh.js';
import { CONTAINER_LOG_MAX_SIZE, SANDBOX_CAPABILITIES, sandboxLabels, type ContainerSettings } from '../docker/container-spec.js';
import { hardeningEnv } from './sandbox-hardening.js';

/** Where sandboxes may go: the operator's constraints and spread preferences, plus nodes the backend excludes right now. */
export interface Placement {
  constraints: readonly string[];
  spread: readonly string[];
  /** Node ids that must not get this sandbox (full, no endpoint, no egress rules). */
  excludedNodeIds: readonly string[];
}

/** Service names are limited to 63 characters; the uuid keeps them unique. */
export function serviceName(uuid: string): string {
  return `anweddol-${uuid}`;
}

export function placementOf(placement: Placement): Docker.Placement {
  return {
    Constraints: [...placement.constraints, ...placement.excludedNodeIds.map((id) => `node.id!=${id}`)],
    Preferences: placement.spread.map((descriptor) => ({ Spread: { SpreadDescriptor: descriptor } })),
  };
}

/**
 * What Docker's service API (1.41) cannot carry comes another way (sandbox-hardening.ts): no_new_privs from the image's
 * entrypoint, asked for in the environment; the swap and disk limits through the node once the task runs.
 */
export function buildServiceSpec(
  settings: ContainerSettings,
  spec: SandboxSpec,
  port: number,
  placement: Placement,
  extraPorts: readonly number[] = [],
  publishMode: PublishMode = 'host',
): Docker.CreateServiceOptions {
  const { limits } = settings;
  const labels = sandboxLabels(settings, spec, port);
  const memoryBytes = limits.memoryMiB * 1024 * 1024;
  return {
    Name: serviceName(spec.uuid),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: settings.image,
        Labels: labels,
        Hostname: 'sandbox',
        Env: hardeningEnv(settings.clientSudo),
        Ulimits: [
          { Name: 'nofile', Soft: limits.nofileLimit, Hard: limits.nofileLimit },
          { Name: 'nproc', Soft: limits.nprocLimit, Hard: limits.nprocLimit },
        ],
        ...(settings.clientSudo ? {} : { CapabilityDrop: ['ALL'], CapabilityAdd: SANDBOX_CAPABILITIES.map((c) => `CAP_${c}`) }),
      },
      Resources: {
        Limits: { MemoryBytes: memoryBytes, NanoCPUs: Math.round(limits.vcpus * 1e9), Pids: limits.pidsLimit },
        // The scheduler never puts more sandboxes on a node than its memory holds.
        Reservations: { MemoryBytes: memoryBytes },
      },
      // An ended sandbox is never restarted, here or elsewhere.
      RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
      Placement: placementOf(placement),
      Networks: [{ Target: settings.networkName }],
      LogDriver: { Name: 'json-file', Options: { 'max-size': CONTAINER_LOG_MAX_SIZE, 'max-file': '1' } },
    },
    Mode: { Replicated: { Replicas: 1 } },
    // Host mode: the port opens on the node that runs the task. Ingress: on every node, the routing mesh (IPVS) passing
    // it to the task wherever it runs. `extraPorts[i]` publishes `spec.publishPorts[i]` (the FL agent's port) the same way.
    EndpointSpec: {
      Ports: [22, ...(spec.publishPorts ?? [])].map((target, i) => ({
        Protocol: 'tcp' as const,
        TargetPort: target,
        PublishedPort: i === 0 ? port : extraPorts[i - 1],
        PublishMode: publishMode,
      })),
    },
  };
}
