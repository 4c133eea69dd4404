// Benchmark: SSH throughput through a sandbox's port forwarder (`port_forwarding.mode: forwarder`), next to a direct
// connection to its sshd (bridge address:22) and to the port docker publishes (docker-proxy), in the same sandbox.
// Run: node --import tsx bench/forward.ts [--mib N] [--rounds N]
// The daemon is the real CLI (rebuilt first) on 127.0.0.1 over the project's private dockerd; the ssh2 client runs here,
// in another process, so the forwarder pays its own event loop as in production. The sandbox is destroyed on every exit path.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ssh2';
import { AnweddolTcpClient } from '../src/client/tcp-client.js';
import { docker, dockerHost } from '../test/helpers/docker-sandbox.js';
import { buildDist, percentile, startDaemon, stopDaemon } from './daemon-harness.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const MIB = option('--mib', 200);
const ROUNDS = option('--rounds', 3);
const PORT_RANGE: [number, number] = [14500, 14599];

interface Created {
  container_uuid: string;
  client_token: string;
  container_username: string;
  container_password: string;
  container_listen_port: number;
}

/** MiB/s of `head -c` streamed from the sandbox over one SSH channel (the session's setup is not timed). */
function sshThroughput(host: string, port: number, username: string, password: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const bound = setTimeout(() => {
      client.end();
      reject(new Error(`${host}:${port}: no result within 300 s`));
    }, 300_000);
    client
      .on('ready', () => {
        client.exec(`head -c ${MIB * 1024 * 1024} /dev/zero`, (error, stream) => {
          if (error) return reject(error);
          const started = performance.now();
          let bytes = 0;
          stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
          stream.on('close', () => {
            const seconds = (performance.now() - started) / 1000;
            clearTimeout(bound);
            client.end();
            if (bytes !== MIB * 1024 * 1024) reject(new Error(`${host}:${port}: got ${bytes} bytes`));
            else resolve(bytes / 1024 / 1024 / seconds);
          });
        });
      })
      .on('error', (error) => {
        clearTimeout(bound);
        reject(error);
      })
      .connect({ host, port, username, password, readyTimeout: 60_000, tryKeyboard: false });
  });
}

/** CPU time (user + system) a process has used, in ms (/proc/PID/stat, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The docker-proxy process serving a published port (dockerd's userland proxy), if any. */
function dockerProxyPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('docker-proxy') && argv[argv.indexOf('-host-port') + 1] === String(port)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

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
    const paths = [
      { name: 'direct (bridge address:22)', host: bridge, port: 22 },
      { name: 'docker-proxy (published port)', host: '127.0.0.1', port: published },
      { name: 'forwarder (port told to the client)', host: '127.0.0.1', port: created.container_listen_port },
    ];
    const results = new Map<string, number[]>(paths.map((p) => [p.name, []]));
    // Throughput swings with the machine's load; the relay's CPU per MiB does not: it is the forwarder's own cost.
    const daemonCpu = new Map<string, number[]>(paths.map((p) => [p.name, []]));
    // The process that relays each path: none for direct, docker-proxy for the published port, the daemon for the forwarder.
    const proxy = dockerProxyPid(published);
    const relayOf = (name: string) => (name === paths[1]!.name ? proxy : name === paths[2]!.name ? daemon.child.pid : undefined);
    console.log(`SSH throughput, ${MIB} MiB of \`head -c\` over one ssh2 exec channel, ${ROUNDS} rounds (order rotated each round)`);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < paths.length; i++) {
        const path = paths[(i + round) % paths.length]!;
        const relay = relayOf(path.name);
        const cpuBefore = relay === undefined ? 0 : cpuMs(relay);
        const mibPerSecond = await sshThroughput(path.host, path.port, created.container_username, created.container_password);
        const cpu = relay === undefined ? 0 : cpuMs(relay) - cpuBefore;
        results.get(path.name)!.push(mibPerSecond);
        daemonCpu.get(path.name)!.push(cpu);
        console.log(`  round ${round + 1}: ${path.name.padEnd(38)} ${mibPerSecond.toFixed(1)} MiB/s, relay CPU ${cpu} ms`);
      }
    }
    const median = (name: string) => percentile(results.get(name)!, 50);
    console.log(`median MiB/s, relay CPU ms per run (docker-proxy ${proxy === undefined ? 'not found: dockerd runs without userland proxy' : `pid ${proxy}`}):`);
    for (const path of paths) console.log(`  ${path.name.padEnd(38)} ${median(path.name).toFixed(1).padStart(6)}  ${percentile(daemonCpu.get(path.name)!, 50)}`);
    const forwarder = median(paths[2]!.name);
    console.log(`forwarder / direct:        ${(forwarder / median(paths[0]!.name)).toFixed(3)}`);
    console.log(`forwarder / docker-proxy:  ${(forwarder / median(paths[1]!.name)).toFixed(3)}`);
    const perGiB = (name: string) => (percentile(daemonCpu.get(name)!, 50) / MIB) * 1024;
    console.log(`relay CPU per GiB: forwarder ${perGiB(paths[2]!.name).toFixed(0)} ms, docker-proxy ${perGiB(paths[1]!.name).toFixed(0)} ms`);
  } finally {
    if (created !== undefined) await client.destroy(created.container_uuid, created.client_token).catch((error: unknown) => console.error(`destroy: ${String(error)}`));
    await stopDaemon(daemon.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
