// SSH throughput of one sandbox over several paths (direct, a relay), measured alternately in one run: shared by
// bench/forward.ts (single engine) and bench/create.ts --swarm (a sandbox on the worker node).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Client } from 'ssh2';
import { percentile } from './daemon-harness.js';

export interface SshLogin {
  username: string;
  password: string;
}

/** One way to the sandbox's sshd, and the process relaying it (none for a direct path). */
export interface ThroughputPath {
  name: string;
  host: string;
  port: number;
  relayPid?: number;
}

export interface PathFigures {
  name: string;
  /** Median MiB/s over the rounds. */
  mibPerSecond: number;
  /** Median CPU the relay used per GiB moved, in ms (0 for a direct path). */
  relayCpuPerGiB: number;
}

/** MiB/s of `head -c` streamed from the sandbox over one SSH exec channel (the session's setup is not timed). */
export function sshThroughput(host: string, port: number, login: SshLogin, mib: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const bound = setTimeout(() => {
      client.end();
      reject(new Error(`${host}:${port}: no result within 300 s`));
    }, 300_000);
    client
      .on('ready', () => {
        client.exec(`head -c ${mib * 1024 * 1024} /dev/zero`, (error, stream) => {
          if (error) return reject(error);
          const started = performance.now();
          let bytes = 0;
          stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
          stream.on('close', () => {
            const seconds = (performance.now() - started) / 1000;
            clearTimeout(bound);
            client.end();
            if (bytes !== mib * 1024 * 1024) reject(new Error(`${host}:${port}: got ${bytes} bytes`));
            else resolve(bytes / 1024 / 1024 / seconds);
          });
        });
      })
      .on('error', (error) => {
        clearTimeout(bound);
        reject(error);
      })
      .connect({ host, port, username: login.username, password: login.password, readyTimeout: 60_000, tryKeyboard: false });
  });
}

/** CPU time (user + system) a process has used, in ms (/proc/PID/stat, clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The docker-proxy process serving a published port (dockerd's userland proxy), if any. */
export function dockerProxyPid(port: number): number | undefined {
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

/**
 * Every path `rounds` times, the order rotated each round so that a change in the machine's load falls on all paths
 * alike; each run printed as it ends. Throughput swings with the load; the relay's CPU per GiB does not.
 */
export async function measurePaths(paths: readonly ThroughputPath[], login: SshLogin, mib: number, rounds: number, indent = '  '): Promise<PathFigures[]> {
  const speeds = new Map<string, number[]>(paths.map((p) => [p.name, []]));
  const cpu = new Map<string, number[]>(paths.map((p) => [p.name, []]));
  const width = Math.max(...paths.map((p) => p.name.length));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < paths.length; i++) {
      const path = paths[(i + round) % paths.length]!;
      const before = path.relayPid === undefined ? 0 : cpuMs(path.relayPid);
      const mibPerSecond = await sshThroughput(path.host, path.port, login, mib);
      const used = path.relayPid === undefined ? 0 : cpuMs(path.relayPid) - before;
      speeds.get(path.name)!.push(mibPerSecond);
      cpu.get(path.name)!.push(used);
      console.log(`${indent}round ${round + 1}: ${path.name.padEnd(width)}  ${mibPerSecond.toFixed(1)} MiB/s, relay CPU ${used} ms`);
    }
  }
  return paths.map((p) => ({
    name: p.name,
    mibPerSecond: percentile(speeds.get(p.name)!, 50),
    relayCpuPerGiB: (percentile(cpu.get(p.name)!, 50) / mib) * 1024,
  }));
}

/** The figures as a table, then each relay's throughput as a ratio of the first (direct) path's. */
export function printFigures(figures: readonly PathFigures[], indent = '  '): void {
  const width = Math.max(...figures.map((f) => f.name.length));
  const direct = figures[0]!;
  for (const f of figures) {
    const ratio = f === direct ? '' : `  ${(f.mibPerSecond / direct.mibPerSecond).toFixed(3)}× direct`;
    const relay = f.relayCpuPerGiB > 0 ? `, relay CPU ${f.relayCpuPerGiB.toFixed(0)} ms/GiB` : '';
    console.log(`${indent}${f.name.padEnd(width)}  median ${f.mibPerSecond.toFixed(1).padStart(6)} MiB/s${relay}${ratio}`);
  }
}

/**
 * Caps what the container sends at `mbit` (a token bucket on its eth0, set from the host in its network namespace), as
 * a client's link would: the SSH stream is then bound by the link, not by this machine's two cores. `undefined` removes it.
 */
export function shapeContainerEgress(containerPid: number, mbit: number | undefined): void {
  const tc = (...argv: string[]) => execFileSync('nsenter', ['-t', String(containerPid), '-n', 'tc', ...argv], { stdio: 'ignore' });
  try {
    tc('qdisc', 'del', 'dev', 'eth0', 'root');
  } catch {
    // none yet
  }
  // Burst ≥ rate / HZ with room: 1 MiB holds ≥ 8 ms at 1 Gbit/s.
  if (mbit !== undefined) tc('qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', '1mb', 'latency', '50ms');
}
