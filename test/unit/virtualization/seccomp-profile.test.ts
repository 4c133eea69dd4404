// The sandboxes' seccomp profile derived from a small synthetic base (never Docker's file): ioctl allowed except btrfs's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BTRFS_IOCTL_TYPE, deriveSandboxProfile, SeccompProfileError, type SeccompRule } from '../../../src/virtualization/docker/seccomp-profile.js';

const CAP_RULE: SeccompRule = { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', args: [], includes: { caps: ['CAP_SYS_PTRACE'] }, excludes: {} };

function base(syscalls: SeccompRule[] = [{ names: ['read', 'ioctl', 'write'], action: 'SCMP_ACT_ALLOW', args: [], includes: {}, excludes: {} }, CAP_RULE]) {
  return { defaultAction: 'SCMP_ACT_ERRNO', archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: [] }], syscalls };
}

/** What the derived profile answers for an ioctl request, evaluated as runc does: any of the OR'ed conditions allows it. */
function allows(rule: SeccompRule, request: number): boolean {
  return (rule.args ?? []).some((arg) => arg.index === 1 && arg.op === 'SCMP_CMP_MASKED_EQ' && (request & arg.value) === arg.valueTwo);
}

function ioctlRules(profile: ReturnType<typeof deriveSandboxProfile>): SeccompRule[] {
  return profile.syscalls.filter((rule) => rule.names?.includes('ioctl'));
}

describe('deriveSandboxProfile', () => {
  it('removes ioctl from the unconditional allow and keeps the other names of that rule', () => {
    const profile = deriveSandboxProfile(base());
    assert.deepEqual(profile.syscalls[0]!.names, ['read', 'write']);
    assert.deepEqual(profile.syscalls[0]!.args, []);
  });

  it('adds one ioctl allow with a condition per request type byte except btrfs', () => {
    const [rule] = ioctlRules(deriveSandboxProfile(base()));
    assert.equal(rule!.action, 'SCMP_ACT_ALLOW');
    assert.equal(rule!.args!.length, 255);
    assert.ok(rule!.args!.every((arg) => arg.index === 1 && arg.value === 0xff00 && arg.valueTwo !== BTRFS_IOCTL_TYPE << 8));
  });

  it('denies BTRFS_IOC_SUBVOL_CREATE and allows the tty ioctls TCGETS and TIOCGWINSZ', () => {
    const [rule] = ioctlRules(deriveSandboxProfile(base()));
    assert.equal(allows(rule!, 0x5000940e), false);
    assert.equal(allows(rule!, 0x5401), true);
    assert.equal(allows(rule!, 0x5413), true);
  });

  it('denies a btrfs request whatever its direction and size bits hold', () => {
    const [rule] = ioctlRules(deriveSandboxProfile(base()));
    for (const request of [0x9400, 0x8008941b, 0xc4009420, 0x940f]) assert.equal(allows(rule!, request), false, request.toString(16));
  });

  it('keeps the default action, the architectures and the conditional rules of the base', () => {
    const profile = deriveSandboxProfile(base());
    assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
    assert.deepEqual(profile.archMap, base().archMap);
    assert.deepEqual(profile.syscalls[1], CAP_RULE);
  });

  it('drops the unconditional rule when ioctl was its only name', () => {
    const profile = deriveSandboxProfile(base([{ names: ['ioctl'], action: 'SCMP_ACT_ALLOW' }, CAP_RULE]));
    assert.deepEqual(profile.syscalls.map((rule) => rule.names), [['ptrace'], ['ioctl']]);
  });

  it('does not change the base it was given', () => {
    const given = base();
    const copy = structuredClone(given);
    deriveSandboxProfile(given);
    assert.deepEqual(given, copy);
  });

  it('refuses a base without an ioctl rule', () => {
    assert.throws(() => deriveSandboxProfile(base([CAP_RULE])), (error: Error) => error instanceof SeccompProfileError && /exactly one rule naming ioctl.*found 0/.test(error.message));
  });

  it('refuses a base whose only ioctl allow carries a condition', () => {
    const conditional: SeccompRule = { names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0x5401, valueTwo: 0, op: 'SCMP_CMP_EQ' }] };
    assert.throws(() => deriveSandboxProfile(base([conditional])), /found 1 naming it, 0 of them unconditional allows/);
  });

  it('refuses a base with a second rule naming ioctl', () => {
    const second: SeccompRule = { names: ['ioctl'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } };
    assert.throws(() => deriveSandboxProfile(base([...base().syscalls, second])), /found 2 naming it, 1 of them unconditional allows/);
  });

  it('refuses a base that allows every syscall by default', () => {
    assert.throws(() => deriveSandboxProfile({ ...base(), defaultAction: 'SCMP_ACT_ALLOW' }), /defaultAction is SCMP_ACT_ALLOW/);
  });

  it('refuses something that is not a profile', () => {
    for (const value of [null, [], 'text', { defaultAction: 'SCMP_ACT_ERRNO' }, { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [42] }]) {
      assert.throws(() => deriveSandboxProfile(value), /not a Docker seccomp profile/);
    }
  });
});
