import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS, SERVER_LABEL, type ContainerSettings } from '../../../src/virtualization/docker/container-spec.js';
import { buildServiceSpec } from '../../../src/virtualization/swarm/service-spec.js';
import { namesRegistry } from '../../../src/virtualization/swarm/node-preparation.js';

const settings: ContainerSettings = { image: 'reg:5000/anweddol/sandbox@sha256:ab', serverId: 'srv', networkName: 'net', publishedAddress: '0.0.0.0', clientSudo: false, seccompProfile: null, limits: DEFAULT_LIMITS };
const spec = { uuid: '11111111-2222-4333-8444-555555555555', username: 'user_12345', password: 'pw', labels: { [SERVER_LABEL]: 'forged' } };
const placement = { constraints: ['node.labels.sandboxes==yes'], spread: ['node.labels.zone'], excludedNodeIds: ['full1'] };

describe('swarm service spec', () => {
  const service = buildServiceSpec(settings, spec, 30001, placement);
  const template = service.TaskTemplate as { ContainerSpec: Record<string, unknown>; RestartPolicy: unknown; Placement: unknown; Resources: unknown };

  it('runs one replica that is never restarted', () => {
    assert.deepEqual(service.Mode, { Replicated: { Replicas: 1 } });
    assert.deepEqual(template.RestartPolicy, { Condition: 'none', MaxAttempts: 0 });
  });

  it('publishes SSH in host mode on the node port', () => {
    assert.deepEqual(service.EndpointSpec, { Ports: [{ Protocol: 'tcp', TargetPort: 22, PublishedPort: 30001, PublishMode: 'host' }] });
  });

  it('publishes SSH and the extra ports through the routing mesh when asked (swarm.publish: ingress)', () => {
    const ingress = buildServiceSpec(settings, { ...spec, publishPorts: [6161] }, 30001, placement, [30002], 'ingress');
    assert.deepEqual(ingress.EndpointSpec, {
      Ports: [
        { Protocol: 'tcp', TargetPort: 22, PublishedPort: 30001, PublishMode: 'ingress' },
        { Protocol: 'tcp', TargetPort: 6161, PublishedPort: 30002, PublishMode: 'ingress' },
      ],
    });
  });

  it('carries our ownership label on the service and its container, over a forged one', () => {
    assert.equal(service.Labels?.[SERVER_LABEL], 'srv');
    assert.equal((template.ContainerSpec.Labels as Record<string, string>)[SERVER_LABEL], 'srv');
  });

  it('keeps the engine backend limits and drops every capability but the sandbox set', () => {
    assert.deepEqual(template.Resources, {
      Limits: { MemoryBytes: 1024 * 1024 * 1024, NanoCPUs: 2e9, Pids: 256 },
      Reservations: { MemoryBytes: 1024 * 1024 * 1024 },
    });
    assert.deepEqual(template.ContainerSpec.CapabilityDrop, ['ALL']);
    assert.ok((template.ContainerSpec.CapabilityAdd as string[]).includes('CAP_SETUID'));
  });

  it('asks the entrypoint for no_new_privs, unless the client has sudo', () => {
    assert.deepEqual(template.ContainerSpec.Env, ['ANWEDDOL_NO_NEW_PRIVS=1']);
    const sudo = buildServiceSpec({ ...settings, clientSudo: true }, spec, 30001, placement).TaskTemplate as { ContainerSpec: { Env: unknown } };
    assert.deepEqual(sudo.ContainerSpec.Env, []);
  });

  it('adds the excluded nodes to the configured constraints, and the spread preferences', () => {
    assert.deepEqual(template.Placement, {
      Constraints: ['node.labels.sandboxes==yes', 'node.id!=full1'],
      Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }],
    });
  });

  it('publishes the ports a spec asks for (the FL agent) in host mode on the extra node ports', () => {
    const withAgent = buildServiceSpec(settings, { ...spec, publishPorts: [6161] }, 30001, placement, [30002]);
    assert.deepEqual(withAgent.EndpointSpec?.Ports?.[1], { Protocol: 'tcp', TargetPort: 6161, PublishedPort: 30002, PublishMode: 'host' });
  });

  it('pulls onto a node only an image that names a registry host', () => {
    assert.equal(namesRegistry('10.240.0.1:5000/anweddol/sandbox@sha256:ab'), true);
    assert.equal(namesRegistry('registry.example/anweddol/sandbox:1'), true);
    assert.equal(namesRegistry('anweddol/sandbox:latest'), false);
    assert.equal(namesRegistry('sandbox'), false);
  });
});
