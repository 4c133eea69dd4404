// DockerVirtualization against the real private dockerd and sandbox image: create, SSH, isolation, events, cleanup.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DockerVirtualization } from '../../src/virtualization/docker/docker-virtualization.js';
import { ForeignContainerError } from '../../src/virtualization/virtualization-errors.js';
import type { Sandbox, SandboxEndReason } from '../../src/virtualization/virtualization-interface.js';
import { closeBackend, containersOf, docker, dockerHost, SANDBOX_CAP_BOUNDING_SET, SANDBOX_IMAGE, sshHostKey, sshRun, uniqueServerId } from '../helpers/docker-sandbox.js';
import { randomUUID } from 'node:crypto';

const serverId = uniqueServerId('backend');
const PASSWORD = 'Pw0rdAbcdefGhijklmnop1234567890';
const NOFILE = 2048;
const NPROC = 3000;

function ipv4InSubnet(address: string, cidr: string): boolean {
  const toInt = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(address) / size) === Math.floor(toInt(base!) / size);
}

function spec(n: number) {
  return { uuid: randomUUID(), username: `user_${10000 + n}`, password: `${PASSWORD}${n}` };
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('DockerVirtualization with the real dockerd', () => {
  let backend: DockerVirtualization;

  before(async () => {
    backend = new DockerVirtualization({
      dockerHost: dockerHost(),
      image: SANDBOX_IMAGE,
      serverId,
      publishedAddress: '127.0.0.1',
      portRange: [12000, 12999],
      memoryMiB: 256,
      vcpus: 1,
      pidsLimit: 128,
      nofileLimit: NOFILE,
      nprocLimit: NPROC,
    });
    await backend.start();
    assert.equal(backend.isAvailable(), true);
  });

  after(() => closeBackend(backend, serverId));

  it('creates a sandbox the client logs into over SSH with the returned port, user and password', async () => {
    const s = spec(1);
    const sandbox = await backend.create(s);
    try {
      assert.match(sandbox.imageSha256, /^[0-9a-f]{64}$/);
      assert.equal(sandbox.imageSha256, docker(['image', 'inspect', '--format', '{{.Id}}', SANDBOX_IMAGE]).replace('sha256:', ''));
      assert.ok(ipv4InSubnet(sandbox.ipAddress ?? '', backend.networkInfo()!.subnet), `${sandbox.ipAddress} in the sandbox subnet`);
      const id = await sshRun(sandbox.port, s.username, s.password, 'id -un; node -e "console.log(1+1)"');
      assert.equal(id.code, 0);
      assert.equal(id.stdout, `${s.username}\n2\n`);
    } finally {
      await backend.destroy(sandbox.id);
    }
  });

  it('refuses SSH logins with a wrong password and for root', async () => {
    const s = spec(2);
    const sandbox = await backend.create(s);
    try {
      await assert.rejects(sshRun(sandbox.port, s.username, 'wrong', 'true'), /authentication/i);
      await assert.rejects(sshRun(sandbox.port, 'root', s.password, 'true'), /authentication/i);
    } finally {
      await backend.destroy(sandbox.id);
    }
  });

  it('removes the container and frees the port on destroy', async () => {
    const sandbox = await backend.create(spec(3));
    await backend.destroy(sandbox.id);
    assert.deepEqual(containersOf(serverId), []);
    assert.equal(await portIsFree(sandbox.port), true);
    assert.equal(backend.portsInUse(), 0);
    await backend.destroy(sandbox.id); // idempotent
  });

  it('gives every sandbox its own SSH host key', async () => {
    const [a, b] = await Promise.all([backend.create(spec(4)), backend.create(spec(5))]);
    try {
      const [ka, kb] = await Promise.all([sshHostKey(a.port), sshHostKey(b.port)]);
      assert.notEqual(ka, kb);
    } finally {
      await Promise.all([backend.destroy(a.id), backend.destroy(b.id)]);
    }
  });

  it('keeps a sandbox from reaching another sandbox over the bridge', async () => {
    const a = await backend.create(spec(6));
    const b = await backend.create(spec(7));
    try {
      assert.ok(b.ipAddress !== undefined);
      const probe = `exec 3<>/dev/tcp/${b.ipAddress}/22 && head -c 4 <&3`;
      const result = await backend.exec(a.id, ['timeout', '3', 'bash', '-c', probe]);
      assert.notEqual(result.exitCode, 0, 'the connection must not succeed');
      assert.doesNotMatch(result.stdout, /SSH-/);
      // The gateway (the host) stays reachable: that is how FL agents reach the daemon.
      assert.equal(backend.gatewayAddress(), backend.networkInfo()?.gateway);
      assert.ok(ipv4InSubnet(backend.gatewayAddress() ?? '', backend.networkInfo()!.subnet));
    } finally {
      await backend.destroy(a.id);
      await backend.destroy(b.id);
    }
  });

  it('runs commands and copies files into a sandbox', async () => {
    const sandbox = await backend.create(spec(8));
    try {
      await backend.putFiles(sandbox.id, '/opt/test/dir', [
        { name: 'a.txt', content: Buffer.from('hello\n') },
        { name: 'sub/run.sh', content: Buffer.from('#!/bin/sh\necho ran as $(id -un)\n'), mode: 0o755, uid: 1000, gid: 1000 },
      ]);
      const cat = await backend.exec(sandbox.id, ['cat', '/opt/test/dir/a.txt']);
      assert.deepEqual(cat, { exitCode: 0, stdout: 'hello\n', stderr: '' });
      const run = await backend.exec(sandbox.id, ['/opt/test/dir/sub/run.sh'], { user: 'user_10008' });
      assert.equal(run.stdout, 'ran as user_10008\n');
      const failing = await backend.exec(sandbox.id, ['sh', '-c', 'echo oops >&2; exit 7']);
      assert.deepEqual(failing, { exitCode: 7, stdout: '', stderr: 'oops\n' });
      await assert.rejects(backend.putFiles(sandbox.id, '/tmp', [{ name: '../etc/passwd', content: Buffer.from('') }]), /invalid file name/);
    } finally {
      await backend.destroy(sandbox.id);
    }
  });

  it('lists only the sandboxes it owns', async () => {
    const other = new DockerVirtualization({ dockerHost: dockerHost(), serverId: `${serverId}-other`, publishedAddress: '127.0.0.1', portRange: [12000, 12999] });
    await other.start();
    const mine = await backend.create(spec(9));
    try {
      assert.deepEqual((await backend.list()).map((s) => s.id), [mine.id]);
      assert.deepEqual(await other.list(), []);
      assert.equal((await backend.list())[0]!.port, mine.port);
    } finally {
      await backend.destroy(mine.id);
      await other.close();
    }
  });

  it('reports a sandbox killed behind its back within 2 s and removes it', async () => {
    const sandbox = await backend.create(spec(10));
    const ended = new Promise<{ id: string; reason: SandboxEndReason; at: number }>((resolve) => {
      const listener = (e: { id: string; reason: SandboxEndReason }) => {
        if (e.id !== sandbox.id) return;
        backend.off('sandbox_ended', listener);
        resolve({ ...e, at: Date.now() });
      };
      backend.on('sandbox_ended', listener);
    });
    const killedAt = Date.now();
    docker(['kill', sandbox.id]);
    const event = await ended;
    assert.equal(event.reason, 'died');
    assert.ok(event.at - killedAt < 2000, `reported after ${event.at - killedAt} ms`);
    // The container disappears from `docker ps` a moment before dockerd answers our remove (which frees the port).
    for (let i = 0; i < 50 && (containersOf(serverId).length > 0 || backend.portsInUse() > 0); i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(containersOf(serverId), []);
    assert.equal(backend.portsInUse(), 0);
  });

  it('keeps a sandbox whose process was OOM-killed at the memory limit', async () => {
    const seen: string[] = [];
    const listener = (e: { id: string }) => seen.push(e.id);
    backend.on('sandbox_ended', listener);
    const s = spec(18);
    const sandbox = await backend.create(s);
    try {
      const since = Math.floor(Date.now() / 1000) - 1;
      const hog = await backend.exec(sandbox.id, ['python3', '-c', 'a = bytearray(1024 * 1024 * 1024)'], { user: s.username });
      assert.equal(hog.exitCode, 137, 'the hog is killed by the OOM killer');
      await new Promise((r) => setTimeout(r, 500));
      const events = docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000)),
        '--filter', `container=${sandbox.id}`, '--filter', 'event=oom', '--format', '{{.Action}}']);
      assert.match(events, /oom/, 'dockerd did report an oom event');
      assert.deepEqual(seen, []);
      const ssh = await sshRun(sandbox.port, s.username, s.password, 'echo alive');
      assert.equal(ssh.stdout, 'alive\n');
    } finally {
      backend.off('sandbox_ended', listener);
      await backend.destroy(sandbox.id);
    }
  });

  it('does not report sandboxes it destroys itself', async () => {
    const seen: string[] = [];
    const listener = (e: { id: string }) => seen.push(e.id);
    backend.on('sandbox_ended', listener);
    const sandbox: Sandbox = await backend.create(spec(11));
    await backend.destroy(sandbox.id);
    await new Promise((r) => setTimeout(r, 500));
    backend.off('sandbox_ended', listener);
    assert.deepEqual(seen, []);
  });

  it('leaves nothing behind when the image does not exist', async () => {
    // A server id of its own: closing it removes its own network, never the one the suite's backend uses.
    const brokenId = `${serverId}-broken`;
    const broken = new DockerVirtualization({ dockerHost: dockerHost(), image: 'anweddol/no-such-image:none', serverId: brokenId, publishedAddress: '127.0.0.1', portRange: [12000, 12999] });
    await broken.start();
    try {
      await assert.rejects(broken.create(spec(12)));
      assert.deepEqual(containersOf(brokenId), []);
      assert.equal(broken.portsInUse(), 0);
    } finally {
      await broken.close();
    }
  });

  it('leaves nothing behind when sshd never answers in time', async () => {
    const slowId = `${serverId}-slow`;
    const slow = new DockerVirtualization({
      dockerHost: dockerHost(),
      serverId: slowId,
      publishedAddress: '127.0.0.1',
      portRange: [12000, 12999],
      waitStrategy: { waitUntilReady: () => Promise.reject(new Error('sshd did not answer within 1 ms')) },
    });
    await slow.start();
    try {
      await assert.rejects(slow.create(spec(13)), /did not answer/);
      assert.deepEqual(containersOf(slowId), []);
      assert.equal(slow.portsInUse(), 0);
    } finally {
      await slow.close();
    }
  });

  it('bounds the capabilities of sandbox init and of the login shell to what sshd needs, with no-new-privileges', async () => {
    const s = spec(16);
    const sandbox = await backend.create(s);
    try {
      // PID 1 is the sandbox's init (as root); $$ is the client's login shell, started by sshd.
      const result = await sshRun(sandbox.port, s.username, s.password, 'for p in 1 $$; do grep -E "^(CapBnd|NoNewPrivs):" /proc/$p/status; done');
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trim().split('\n');
      assert.deepEqual(lines, [
        `CapBnd:\t${SANDBOX_CAP_BOUNDING_SET}`,
        'NoNewPrivs:\t1',
        `CapBnd:\t${SANDBOX_CAP_BOUNDING_SET}`,
        'NoNewPrivs:\t1',
      ]);
    } finally {
      await backend.destroy(sandbox.id);
    }
  });

  it('refuses the client root through sudo without client_sudo', async () => {
    const s = spec(19);
    const sandbox = await backend.create(s);
    try {
      const result = await sshRun(sandbox.port, s.username, s.password, 'sudo -n id -u');
      assert.notEqual(result.code, 0);
      assert.notEqual(result.stdout, '0\n');
    } finally {
      await backend.destroy(sandbox.id);
    }
  });

  it('applies the nofile and nproc ulimits to init and caps the login shell at them', async () => {
    const s = spec(20);
    const sandbox = await backend.create(s);
    try {
      const result = await sshRun(sandbox.port, s.username, s.password,
        'grep -E "^Max (open files|processes)" /proc/1/limits | tr -s " " | sed "s/ *$//"; ulimit -Hn; ulimit -Hu; ulimit -Sn; ulimit -Su');
      assert.equal(result.code, 0, result.stderr);
      const [initProcesses, initFiles, hardFiles, hardProcesses, softFiles, softProcesses] = result.stdout.trim().split('\n');
      assert.equal(initProcesses, `Max processes ${NPROC} ${NPROC} processes`);
      assert.equal(initFiles, `Max open files ${NOFILE} ${NOFILE} files`);
      assert.deepEqual([hardFiles, hardProcesses], [String(NOFILE), String(NPROC)]);
      // pam_limits may lower the soft limits of a login (Debian's sets nofile to 1024); never above the hard ones.
      assert.ok(Number(softFiles) <= NOFILE && Number(softProcesses) <= NPROC, `soft limits ${softFiles}/${softProcesses}`);
    } finally {
      await backend.destroy(sandbox.id);
    }
  });

  it('keeps the container log on the host at 1 MiB, whatever reaches sshd\'s output', async () => {
    const sandbox = await backend.create(spec(21));
    try {
      // 8 MiB of lines on the stderr of PID 1 (sshd -e), where the container log collects.
      const flood = await backend.exec(sandbox.id, ['sh', '-c', 'yes "connection attempt from a stranger" | head -c 8388608 > /proc/1/fd/2']);
      assert.equal(flood.exitCode, 0, flood.stderr);
      const logPath = docker(['inspect', '--format', '{{.LogPath}}', sandbox.id]);
      const size = statSync(logPath).size;
      assert.ok(size > 0 && size <= 2 * 1024 * 1024, `container log is ${size} bytes`);
    } finally {
      await backend.destroy(sandbox.id);
    }
  });

  it('refuses to destroy a container without its server label and leaves it running', async () => {
    const foreign = docker(['run', '-d', '--rm', '--label', `anweddol.server=${serverId}-foreign`, '--network', 'none', SANDBOX_IMAGE, 'sleep', '60']);
    try {
      await assert.rejects(backend.destroy(foreign), (error: unknown) => error instanceof ForeignContainerError);
      await assert.rejects(backend.destroy(foreign.slice(0, 12)), (error: unknown) => error instanceof ForeignContainerError);
      assert.equal(docker(['inspect', '--format', '{{.State.Running}}', foreign]), 'true');
    } finally {
      docker(['rm', '-f', foreign]);
    }
  });

  it('treats destroying a container that no longer exists as done', async () => {
    await backend.destroy('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
  });

  it('describes its network: the bridge interface on the host carries the gateway address', async () => {
    const info = backend.networkInfo();
    assert.ok(info !== undefined);
    const addresses = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', info.bridge], { encoding: 'utf8' });
    assert.match(addresses, new RegExp(`inet ${info.gateway.replaceAll('.', '\\.')}/${info.subnet.split('/')[1]} `));
  });

  it('gives the client passwordless sudo with client_sudo', async () => {
    const sudo = new DockerVirtualization({ dockerHost: dockerHost(), serverId: `${serverId}-sudo`, publishedAddress: '127.0.0.1', portRange: [12000, 12999], clientSudo: true });
    await sudo.start();
    const s = spec(17);
    const sandbox = await sudo.create(s);
    try {
      const result = await sshRun(sandbox.port, s.username, s.password, 'sudo -n id -u');
      assert.equal(result.stdout, '0\n');
    } finally {
      await sudo.destroy(sandbox.id);
      await sudo.close();
    }
  });

  it('keeps serving other sandboxes while one runs a fork bomb (pids limit)', async () => {
    const bomb = await backend.create(spec(14));
    try {
      await backend.exec(bomb.id, ['bash', '-c', 'b(){ b|b& }; b'], { detach: true, user: 'user_10014' });
      await new Promise((r) => setTimeout(r, 1500));
      const s = spec(15);
      const started = Date.now();
      const other = await backend.create(s);
      try {
        const result = await sshRun(other.port, s.username, s.password, 'echo alive');
        assert.equal(result.stdout, 'alive\n');
        assert.ok(Date.now() - started < 20_000);
        const pids = Number(docker(['inspect', '--format', '{{.HostConfig.PidsLimit}}', bomb.id]));
        assert.equal(pids, 128);
      } finally {
        await backend.destroy(other.id);
      }
    } finally {
      await backend.destroy(bomb.id);
    }
  });
});

describe('the sandbox network of one server', () => {
  const owner = uniqueServerId('network');
  const networkExists = () => docker(['network', 'ls', '--quiet', '--filter', `name=^${owner}-sandboxes$`]) !== '';
  const open = () =>
    new DockerVirtualization({ dockerHost: dockerHost(), image: SANDBOX_IMAGE, serverId: owner, publishedAddress: '127.0.0.1', portRange: [12000, 12999], memoryMiB: 256, vcpus: 1 });

  after(() => {
    for (const id of containersOf(owner)) docker(['rm', '-f', id]);
    if (networkExists()) docker(['network', 'rm', `${owner}-sandboxes`]);
  });

  it('is the server\'s own, kept at close while a sandbox is attached and removed at close once none is', async () => {
    const first = open();
    await first.start();
    assert.equal(first.networkInfo()!.name, `${owner}-sandboxes`);
    assert.equal(docker(['network', 'inspect', '--format', '{{index .Labels "anweddol.server"}}', `${owner}-sandboxes`]), owner);
    const kept = await first.create(spec(90));
    await first.close();
    assert.ok(networkExists(), 'a sandbox kept across the stop keeps its network');

    const second = open();
    await second.start();
    await second.destroy(kept.id);
    await second.close();
    assert.equal(networkExists(), false, 'the empty network is removed at close');
  });
});
