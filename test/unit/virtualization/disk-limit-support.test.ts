// Which Docker storage drivers can enforce a per-sandbox disk limit, decided from `docker info` alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diskLimitVerdict } from '../../../src/virtualization/docker/disk-limit-support.js';

describe('diskLimitVerdict', () => {
  it('trusts btrfs and zfs to enforce the size option', () => {
    assert.deepEqual(diskLimitVerdict({ Driver: 'btrfs', DriverStatus: [['Build Version', 'Btrfs v6.2']] }), { kind: 'enforced' });
    assert.deepEqual(diskLimitVerdict({ Driver: 'zfs', DriverStatus: [] }), { kind: 'enforced' });
  });

  it('asks for a probe on overlay2 over XFS, which enforces it only with pquota', () => {
    assert.deepEqual(diskLimitVerdict({ Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'xfs']] }), { kind: 'probe' });
  });

  it('refuses overlay2 over any other filesystem and names it', () => {
    assert.deepEqual(diskLimitVerdict({ Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true']] }), {
      kind: 'unsupported',
      driver: 'overlay2',
      detail: 'overlay2 on extfs',
    });
  });

  it('refuses drivers without quotas (vfs, devicemapper) and an engine that does not say', () => {
    assert.equal(diskLimitVerdict({ Driver: 'vfs', DriverStatus: [] }).kind, 'unsupported');
    assert.equal(diskLimitVerdict({ Driver: 'devicemapper' }).kind, 'unsupported');
    assert.equal(diskLimitVerdict({}).kind, 'unsupported');
  });
});
