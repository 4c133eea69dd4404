// Benchmark: SSH throughput through a sandbox's port forwarder (`port_forwarding.mode: forwarder`), next to a direct
// connection to its sshd (bridge address:22) and to the port docker publishes (docker-proxy), in the same sandbox.
// Run: node --import tsx bench/forward.ts [--mib N] [--rounds N] [--link MBIT]
// Twice: unbounded (the ssh2 client, sshd and the relay share this machine's two cores: CPU-bound), then with the
// sandbox's sending side capped at --link Mbit/s (default 1000; 0 skips it), as a client's own link bounds it.
// The daemon is the real CLI (rebuilt first) on 127.0.0.1 over the project's private dockerd; the ssh2 client runs here,
// in another process, so the forwarder pays its own event loop as in production. The sandbox is destroyed on every exit path.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnweddolTcpClient } from '../src/client/tcp-client.js';
import { docker, dockerHost } from '../test/helpers/docker-sandbox.js';
import { buildDist, startDaemon, stopDaemon, type Created } from './daemon-harness.js';
import { dockerProxyPid, measurePaths, printFigures, shapeContainerEgress, type ThroughputPath } from './ssh-throughput.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const MIB = option('--mib', 200);
const ROUNDS = option('--rounds', 3);
const LINK_MBIT = option('--link', 1000);
const PORT_RANGE: [number, number] = [14500, 14599];

async function main(): Promise<void> {
  const host = dockerHost();
  buildDist();
  const dir = mkdtempSync(join(tmpdir(), 'anweddol-bench-forward-'));
  const daemon = await startDaemon(dir, host, {
    server: { rsa_key_size: 2048, timeout: 60 },
    container: { container_memory: 256, container_vcpus: 2, network_name: 'anweddol-bench-forward', max_lifetime: null },
    port_forwarding: { port_range: PORT_RANGE, mode: 'forwarder' },
  });
  const client = new AnweddolTcpClient({ host: '127.0.0.1', port: daemon.port, rsaKeyBits: 2048, timeoutMs: 120_000 });
  let created: Created | undefined;
  try {
    const response = await client.create();
    if (response.message !== 'OK') throw new Error(`CREATE answered ${response.message}`);
    created = response.data as unknown as Created;
    const id = docker(['ps', '-q', '--filter', `label=anweddol.uuid=${created.container_uuid}`]);
    const bridge = docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', id]);
    const published = Number(docker(['port', id, '22/tcp']).split(':').at(-1));
    const proxy = dockerProxyPid(published);
    const paths: ThroughputPath[] = [
      { name: 'direct (bridge address:22)', host: bridge, port: 22 },
      { name: 'docker-proxy (published port)', host: '127.0.0.1', port: published, ...(proxy === undefined ? {} : { relayPid: proxy }) },
      { name: 'forwarder (port told to the client)', host: '127.0.0.1', port: created.container_listen_port, relayPid: daemon.child.pid! },
    ];
    const login = { username: created.container_username, password: created.container_password };
    if (proxy === undefined) console.log('(docker-proxy not found: dockerd runs without userland proxy; its row has no CPU figure)');
    console.log(`SSH throughput, ${MIB} MiB of \`head -c\` over one ssh2 exec channel, ${ROUNDS} rounds (order rotated each round)`);
    console.log('unbounded (CPU-bound: ssh2 client, sshd and the relay share two cores):');
    printFigures(await measurePaths(paths, login, MIB, ROUNDS, '    '));
    if (LINK_MBIT > 0) {
      const pid = Number(docker(['inspect', '-f', '{{.State.Pid}}', id]));
      shapeContainerEgress(pid, LINK_MBIT);
      console.log(`the sandbox's sending side capped at ${LINK_MBIT} Mbit/s (${((LINK_MBIT * 1e6) / 8 / 1048576).toFixed(1)} MiB/s, a token bucket on its eth0):`);
      printFigures(await measurePaths(paths, login, MIB, ROUNDS, '    '));
    }
  } finally {
    if (created !== undefined) await client.destroy(created.container_uuid, created.client_token).catch((error: unknown) => console.error(`destroy: ${String(error)}`));
    await stopDaemon(daemon.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
