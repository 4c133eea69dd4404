// Soak benchmark: malformed sessions, idle connections and a CREATE flood against the real daemon at once, while a well-behaved client must keep 100 % success.
// Run: npm run bench:abuse (DOCKER_HOST: the private dockerd). Prints figures; exits 1 only when an invariant breaks
// (good client below 100 %, a sandbox or session row left after the destroys, daemon peak RSS ≥ 150 MB).
// The daemon is the real CLI (dist/, rebuilt first) with default limits, TCP and REST on 127.0.0.1; abusers come from
// 127.0.0.1 (malformed), 127.0.0.3 (idle) and 127.0.0.4 (flood), the good client from 127.0.0.2. Everything created is
// destroyed, the daemon stopped and its temp folder and sandbox network removed on every exit path.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AnweddolHttpClient } from '../src/client/http-client.js';
import { AnweddolTcpClient, generateClientKeyPair, type ClientKeyPair } from '../src/client/tcp-client.js';
import { adminRequest } from '../src/daemon/admin-channel.js';
import { serverIdFor } from '../src/daemon/virtualization-factory.js';
import type { AnweddolResponse } from '../src/server/types.js';
import { docker, dockerHost, sshRun } from '../test/helpers/docker-sandbox.js';
import { floodCreates, holdIdleConnections, MALFORMED_KINDS, malformedSession, Outcomes, runPool, type CreatedSandbox, type Endpoints } from './abusers.js';
import { buildDist, fmt, freePort, percentile, rssMiB, startDaemon, stopDaemon, type BenchDaemon } from './daemon-harness.js';

const MALFORMED_SESSIONS = 2000;
const MALFORMED_CONCURRENCY = 16;
const IDLE_PER_TRANSPORT = 250;
const IDLE_REOPEN_MS = 2000;
const FLOOD_ATTEMPTS = 200;
const FLOOD_CONCURRENCY = 8;
const STAT_INTERVAL_MS = 100;
const BASELINE = { cycles: 2, minMs: 15_000 };
// Long enough for the server's 10 s deadlines to show on idle connections (REST checks them every 30 s).
const UNDER_ABUSE = { cycles: 3, minMs: 45_000 };
const RUN_BOUND_MS = 180_000;
const RSS_LIMIT_MB = 150;

const GOOD = '127.0.0.2';
const MALFORMED_FROM = '127.0.0.1';
const IDLE_FROM = '127.0.0.3';
const FLOOD_FROM = '127.0.0.4';

interface Created extends CreatedSandbox {
  container_username: string;
  container_password: string;
  container_listen_port: number;
}

/** A sandbox someone holds, with the address whose DESTROY releases it. */
interface Held {
  sandbox: CreatedSandbox;
  from: string;
}

interface GoodFigures {
  statMs: number[];
  cycleMs: number[];
  failures: Outcomes;
}

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function clientsFrom(at: Endpoints, address: string, key: ClientKeyPair) {
  return {
    tcp: new AnweddolTcpClient({ host: '127.0.0.1', port: at.tcpPort, keyPair: key, localAddress: address, timeoutMs: 60_000 }),
    http: new AnweddolHttpClient({ baseUrl: `http://127.0.0.1:${at.httpPort}`, localAddress: address, timeoutMs: 60_000 }),
  };
}

function expectOk(what: string, response: AnweddolResponse): void {
  if (response.message !== 'OK') throw new Error(`${what} answered ${response.message}`);
}

/**
 * The well-behaved client: a STAT every ~100 ms (TCP and REST in turn) and, alongside, `cycles` CREATE → SSH login →
 * DESTROY cycles (TCP and REST in turn), until both are done, `minMs` has passed and `keepGoing()` says stop.
 */
async function goodClient(at: Endpoints, key: ClientKeyPair, held: Held[], cycles: number, minMs: number, keepGoing: () => boolean): Promise<GoodFigures> {
  const { tcp, http } = clientsFrom(at, GOOD, key);
  const figures: GoodFigures = { statMs: [], cycleMs: [], failures: new Outcomes() };
  const started = Date.now();
  let cyclesDone = false;
  const statLoop = async () => {
    for (let i = 0; !cyclesDone || Date.now() - started < minMs || keepGoing(); i++) {
      const t0 = performance.now();
      const transport = i % 2 === 0 ? 'TCP' : 'REST';
      try {
        expectOk('STAT', await (transport === 'TCP' ? tcp.stat() : http.stat()));
        figures.statMs.push(performance.now() - t0);
      } catch (error) {
        figures.failures.add(`${transport} STAT: ${(error as Error).message}`);
      }
      await sleep(Math.max(0, STAT_INTERVAL_MS - (performance.now() - t0)));
    }
  };
  const cycleLoop = async () => {
    for (let i = 0; i < cycles; i++) {
      const client = i % 2 === 0 ? tcp : http;
      const t0 = performance.now();
      try {
        const response = await client.create();
        expectOk('CREATE', response);
        const data = response.data as unknown as Created;
        const mine: Held = { sandbox: data, from: GOOD };
        held.push(mine);
        const login = await sshRun(data.container_listen_port, data.container_username, data.container_password, 'id -un');
        if (login.stdout !== `${data.container_username}\n`) throw new Error(`SSH login printed ${JSON.stringify(login.stdout)}`);
        expectOk('DESTROY', await client.destroy(data.container_uuid, data.client_token));
        held.splice(held.indexOf(mine), 1);
        figures.cycleMs.push(performance.now() - t0);
      } catch (error) {
        figures.failures.add(`cycle: ${(error as Error).message}`);
      }
      await sleep(1000);
    }
    cyclesDone = true;
  };
  await Promise.all([statLoop(), cycleLoop()]);
  return figures;
}

function goodLines(label: string, f: GoodFigures): string[] {
  const attempts = f.statMs.length + f.cycleMs.length + f.failures.total;
  const ok = f.statMs.length + f.cycleMs.length;
  return [
    `${label}: ${ok}/${attempts} requests succeeded (${((100 * ok) / Math.max(1, attempts)).toFixed(1)} %)`,
    `  STAT (${f.statMs.length}): p50 ${fmt(percentile(f.statMs, 50))}, p95 ${fmt(percentile(f.statMs, 95))}, max ${fmt(Math.max(...f.statMs))}`,
    `  CREATE→SSH login→DESTROY (${f.cycleMs.length}): p50 ${fmt(percentile(f.cycleMs, 50))}, p95 ${fmt(percentile(f.cycleMs, 95))}, max ${fmt(Math.max(...f.cycleMs))}`,
    ...(f.failures.total > 0 ? ['  failures:', ...f.failures.lines()] : []),
  ];
}

const ratio = (a: number[], b: number[], p: number) => (percentile(a, p) / percentile(b, p)).toFixed(2);

interface DaemonSocket {
  state: string;
  peer: string;
}

/** The daemon's own TCP sockets other than its listeners (ss): accepted ones only, not those still in a listen backlog. */
async function daemonSockets(pid: number): Promise<DaemonSocket[]> {
  const { stdout } = await run('ss', ['-Htanp']);
  return stdout
    .split('\n')
    .filter((line) => line.includes(`pid=${pid},`) && !line.startsWith('LISTEN'))
    .map((line) => {
      const [state, , , , peer] = line.split(/\s+/);
      return { state: state!, peer: peer! };
    });
}

/** Samples, once a second until stopped, how many connections from `address` the daemon holds; resolves to the peak. */
function sampleHeld(pid: number, address: string): { stop(): Promise<number> } {
  let peak = 0;
  let stopped = false;
  const from = (peer: string) => peer.replace(/^\[(::ffff:)?/, '').replace(/\]?:\d+$/, '') === address;
  const loop = (async () => {
    while (!stopped) {
      const held = (await daemonSockets(pid)).filter((s) => s.state === 'ESTAB' && from(s.peer)).length;
      peak = Math.max(peak, held);
      await sleep(1000);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return peak;
    },
  };
}

function labelledContainers(serverId: string): string[] {
  const out = docker(['ps', '-aq', '--filter', `label=anweddol.server=${serverId}`]);
  return out === '' ? [] : out.split('\n');
}

async function destroyHeld(at: Endpoints, key: ClientKeyPair, held: Held[]): Promise<void> {
  while (held.length > 0) {
    const { sandbox, from } = held.pop()!;
    await clientsFrom(at, from, key).tcp.destroy(sandbox.container_uuid, sandbox.client_token).catch((error: Error) => console.error(`bench: DESTROY failed: ${error.message}`));
  }
}

async function abuse(daemon: BenchDaemon, at: Endpoints, key: ClientKeyPair, held: Held[]): Promise<number> {
  const pid = daemon.child.pid!;
  const serverId = serverIdFor({ database: { file_path: daemon.databaseFile } });
  const rssStart = rssMiB(pid);
  console.error(`bench: baseline, the good client alone (${BASELINE.minMs / 1000} s, ${BASELINE.cycles} cycles)`);
  const baseline = await goodClient(at, key, held, BASELINE.cycles, BASELINE.minMs, () => false);
  const rssBefore = rssMiB(pid);

  console.error('bench: abuse: malformed sessions, idle connections and a CREATE flood, with the good client');
  const flooded: CreatedSandbox[] = [];
  const idle = holdIdleConnections(at, IDLE_FROM, IDLE_PER_TRANSPORT, IDLE_REOPEN_MS);
  const idleHeld = sampleHeld(pid, IDLE_FROM);
  const malformed = new Map(MALFORMED_KINDS.map((kind) => [kind, new Outcomes()]));
  let abusersDone = false;
  const abuseStarted = performance.now();
  const kinds = Array.from({ length: MALFORMED_SESSIONS }, (_, i) => MALFORMED_KINDS[i % MALFORMED_KINDS.length]!);
  const abusers = Promise.all([
    runPool(kinds, MALFORMED_CONCURRENCY, async (kind) => malformed.get(kind)!.add(await malformedSession(kind, at, MALFORMED_FROM, key))).then(() => performance.now() - abuseStarted),
    floodCreates(at, FLOOD_FROM, FLOOD_ATTEMPTS, FLOOD_CONCURRENCY, key, flooded).then((o) => ({ outcomes: o, ms: performance.now() - abuseStarted })),
  ]).finally(() => (abusersDone = true));
  let underAbuse: GoodFigures;
  let idleOutcomes: Outcomes;
  let idlePeak: number;
  try {
    underAbuse = await goodClient(at, key, held, UNDER_ABUSE.cycles, UNDER_ABUSE.minMs, () => !abusersDone);
  } finally {
    idlePeak = await idleHeld.stop();
    idleOutcomes = await idle.stop();
    await abusers.catch(() => {});
    held.push(...flooded.map((sandbox) => ({ sandbox, from: FLOOD_FROM })));
  }
  const [malformedMs, flood] = await abusers;
  const abuseMs = performance.now() - abuseStarted;
  const floodHeld = flooded.length;
  await destroyHeld(at, key, held);
  await sleep(2000);

  const rssAfter = rssMiB(pid);
  const stat = (await adminRequest(daemon.adminSocket, 'stat')) as {
    sessions: unknown[];
    active_connections: number;
    connections_served: number;
    runtime_errors: number;
    refused_by_client_limit: Record<string, number>;
  };
  const containersLeft = labelledContainers(serverId).length;
  const sockets = new Outcomes();
  for (const socket of await daemonSockets(pid)) sockets.add(socket.state);
  const peakMB = (rssAfter.hwm * 1024 * 1024) / 1e6;
  const lines = [
    `abuse phase: ${(abuseMs / 1000).toFixed(1)} s (malformed sessions done in ${(malformedMs / 1000).toFixed(1)} s, flood in ${(flood.ms / 1000).toFixed(1)} s)`,
    `malformed sessions from ${MALFORMED_FROM}: ${MALFORMED_SESSIONS}, ${MALFORMED_CONCURRENCY} at a time`,
    ...MALFORMED_KINDS.flatMap((kind) => [`  ${kind}:`, ...malformed.get(kind)!.lines()]),
    `idle connections from ${IDLE_FROM}: ${IDLE_PER_TRANSPORT} TCP + ${IDLE_PER_TRANSPORT} REST slots, reopened ${IDLE_REOPEN_MS / 1000} s after a close; peak held by the daemon at once ${idlePeak} (ss, sampled each second; cap server.max_connections_per_client)`,
    ...idleOutcomes.lines(),
    `CREATE flood from ${FLOOD_FROM}: ${FLOOD_ATTEMPTS} attempts (TCP/REST alternating), ${FLOOD_CONCURRENCY} at a time; ${floodHeld} sandboxes obtained (destroyed after)`,
    ...flood.outcomes.lines(),
    `refusals counted by the daemon (admin stat): ${JSON.stringify(stat.refused_by_client_limit)}; connections served ${stat.connections_served}, runtime errors ${stat.runtime_errors}`,
    ...goodLines(`good client ${GOOD}, alone (baseline)`, baseline),
    ...goodLines(`good client ${GOOD}, under abuse`, underAbuse),
    `  ratio under abuse / alone: STAT p50 ${ratio(underAbuse.statMs, baseline.statMs, 50)}, p95 ${ratio(underAbuse.statMs, baseline.statMs, 95)}; cycle p50 ${ratio(underAbuse.cycleMs, baseline.cycleMs, 50)}`,
    `daemon RSS: ${rssStart.rss.toFixed(0)} MiB at start, ${rssBefore.rss.toFixed(0)} MiB before the abuse, ${rssAfter.rss.toFixed(0)} MiB after; peak (VmHWM) ${rssAfter.hwm.toFixed(0)} MiB = ${peakMB.toFixed(0)} MB (limit ${RSS_LIMIT_MB} MB)`,
    `left after the destroys: ${containersLeft} containers labelled anweddol.server=${serverId} (expected 0), ${stat.sessions.length} session rows (expected 0)`,
    `daemon TCP sockets besides listeners: ${sockets.total} (ss${sockets.total > 0 ? `: ${sockets.lines('').join(', ').replace(/\s+/g, ' ')}` : ''}), active connections (admin stat) ${stat.active_connections}`,
  ];
  console.log(lines.join('\n'));

  const broken: string[] = [];
  if (baseline.failures.total + underAbuse.failures.total > 0) broken.push(`good client failed ${baseline.failures.total + underAbuse.failures.total} request(s)`);
  if (containersLeft !== 0 || stat.sessions.length !== 0) broken.push(`leak: ${containersLeft} containers, ${stat.sessions.length} session rows left`);
  if (peakMB >= RSS_LIMIT_MB) broken.push(`daemon peak RSS ${peakMB.toFixed(0)} MB ≥ ${RSS_LIMIT_MB} MB`);
  for (const b of broken) console.log(`INVARIANT BROKEN: ${b}`);
  return broken.length === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  const host = dockerHost();
  buildDist();
  const dir = mkdtempSync(join(tmpdir(), 'anweddol-bench-abuse-'));
  // A network of its own: the egress rules of this daemon never meet another server's on the shared bridge.
  const network = `anweddol-abuse-${randomBytes(4).toString('hex')}`;
  const httpPort = await freePort();
  let daemon: BenchDaemon | undefined;
  const held: Held[] = [];
  try {
    const key = await generateClientKeyPair(2048);
    daemon = await startDaemon(dir, host, {
      web_server: { enabled: true, bind_address: '127.0.0.1', listen_port: httpPort },
      container: { network_name: network },
    });
    const at = { tcpPort: daemon.port, httpPort };
    const run = abuse(daemon, at, key, held);
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`run exceeded ${RUN_BOUND_MS / 1000} s`)), RUN_BOUND_MS).unref());
    try {
      return await Promise.race([run, timeout]);
    } finally {
      await destroyHeld(at, key, held);
    }
  } finally {
    if (daemon !== undefined) {
      await stopDaemon(daemon.child);
      const serverId = serverIdFor({ database: { file_path: daemon.databaseFile } });
      const leftovers = labelledContainers(serverId);
      if (leftovers.length > 0) docker(['rm', '-f', ...leftovers]);
    }
    try {
      docker(['network', 'rm', network]);
    } catch {
      // Never created (the daemon did not get that far).
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exit(await main());
