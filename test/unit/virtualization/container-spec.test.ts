// The sandbox container spec, with no Docker: hardening flags, limits, ulimits, storage, labels, network and port.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildContainerSpec,
  DEFAULT_LIMITS,
  resolveLimits,
  SANDBOX_CAPABILITIES,
  type ContainerSettings,
} from '../../../src/virtualization/docker/container-spec.js';

const PROFILE = JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [] });
const SPEC = { uuid: '0f8e4d2c-1b3a-4c5d-8e9f-0a1b2c3d4e5f', username: 'user_12345', password: 'not-in-the-spec' };

function settings(overrides: Partial<ContainerSettings> = {}, limits: Partial<typeof DEFAULT_LIMITS> = {}): ContainerSettings {
  return {
    image: 'anweddol/sandbox:latest',
    serverId: 'srv-1',
    networkName: 'anweddol-sandboxes',
    publishedAddress: '127.0.0.1',
    clientSudo: false,
    seccompProfile: null,
    limits: resolveLimits(limits),
    ...overrides,
  };
}

function hostConfig(s: ContainerSettings) {
  return buildContainerSpec(s, SPEC, 12001).HostConfig!;
}

describe('buildContainerSpec', () => {
  it('drops every capability but the few sshd needs, and sets no-new-privileges', () => {
    const host = hostConfig(settings());
    assert.deepEqual(host.CapDrop, ['ALL']);
    assert.deepEqual(host.CapAdd, SANDBOX_CAPABILITIES);
    assert.deepEqual(host.SecurityOpt, ['no-new-privileges']);
    assert.equal(host.Privileged, undefined);
  });

  it('keeps the default capabilities and privileges with client_sudo, which sudo needs', () => {
    const host = hostConfig(settings({ clientSudo: true }));
    assert.equal(host.CapDrop, undefined);
    assert.equal(host.SecurityOpt, undefined);
  });

  it('runs the sandbox under the given seccomp profile, next to no-new-privileges', () => {
    const host = hostConfig(settings({ seccompProfile: PROFILE }));
    assert.deepEqual(host.SecurityOpt, [`seccomp=${PROFILE}`, 'no-new-privileges']);
  });

  it('keeps the seccomp profile with client_sudo: root in the sandbox must not escape the disk limit either', () => {
    const host = hostConfig(settings({ clientSudo: true, seccompProfile: PROFILE }));
    assert.deepEqual(host.SecurityOpt, [`seccomp=${PROFILE}`]);
  });

  it('caps memory without extra swap, CPUs and processes', () => {
    const host = hostConfig(settings({}, { memoryMiB: 256, vcpus: 1.5, pidsLimit: 128 }));
    assert.equal(host.Memory, 256 * 1024 * 1024);
    assert.equal(host.MemorySwap, 256 * 1024 * 1024);
    assert.equal(host.NanoCpus, 1_500_000_000);
    assert.equal(host.PidsLimit, 128);
  });

  it('sets the nofile and nproc ulimits, soft equal to hard', () => {
    const host = hostConfig(settings({}, { nofileLimit: 2048, nprocLimit: 3000 }));
    assert.deepEqual(host.Ulimits, [
      { Name: 'nofile', Soft: 2048, Hard: 2048 },
      { Name: 'nproc', Soft: 3000, Hard: 3000 },
    ]);
  });

  it('caps the writable layer with a size storage option in MiB', () => {
    assert.deepEqual(hostConfig(settings({}, { diskLimitMiB: 3072 })).StorageOpt, { size: '3072M' });
  });

  it('sets no storage option when there is no disk limit', () => {
    assert.equal('StorageOpt' in hostConfig(settings({}, { diskLimitMiB: null })), false);
  });

  it('caps the container log, which strangers can grow through sshd', () => {
    assert.deepEqual(hostConfig(settings()).LogConfig, { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } });
  });

  it('publishes only SSH, on the configured address and port, on the sandbox network, never restarted', () => {
    const spec = buildContainerSpec(settings(), SPEC, 12001);
    assert.deepEqual(spec.ExposedPorts, { '22/tcp': {} });
    assert.deepEqual(spec.HostConfig!.PortBindings, { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '12001' }] });
    assert.equal(spec.HostConfig!.NetworkMode, 'anweddol-sandboxes');
    assert.deepEqual(spec.HostConfig!.RestartPolicy, { Name: 'no' });
  });

  it('labels the container with its owner, uuid and port, and keeps the credentials out of the spec', () => {
    const spec = buildContainerSpec(settings(), { ...SPEC, labels: { 'anweddol.fl.training': 't1' } }, 12001);
    assert.deepEqual(spec.Labels, { 'anweddol.fl.training': 't1', 'anweddol.server': 'srv-1', 'anweddol.uuid': SPEC.uuid, 'anweddol.port': '12001' });
    assert.equal(JSON.stringify(spec).includes(SPEC.password), false);
  });

  it('does not let extra labels forge the ownership labels', () => {
    const spec = buildContainerSpec(settings(), { ...SPEC, labels: { 'anweddol.server': 'someone-else', 'anweddol.port': '1' } }, 12001);
    assert.equal(spec.Labels!['anweddol.server'], 'srv-1');
    assert.equal(spec.Labels!['anweddol.port'], '12001');
  });
});

describe('resolveLimits', () => {
  it('fills in the defaults for absent limits', () => {
    assert.deepEqual(resolveLimits({ pidsLimit: undefined }), DEFAULT_LIMITS);
  });

  it('rejects limits that would leave a sandbox unusable, naming the option', () => {
    assert.throws(() => resolveLimits({ nofileLimit: 10 }), /nofileLimit/);
    assert.throws(() => resolveLimits({ nprocLimit: 1.5 }), /nprocLimit/);
    assert.throws(() => resolveLimits({ diskLimitMiB: 10 }), /diskLimitMiB/);
    assert.throws(() => resolveLimits({ pidsLimit: 0 }), /pidsLimit/);
    assert.throws(() => resolveLimits({ memoryMiB: 1 }), /memoryMiB/);
  });
});
