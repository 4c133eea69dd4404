// bench/create.ts --swarm: cold and warm CREATE on one engine next to the two-node swarm, then SSH through the forwarder to a worker sandbox (README "Running on a swarm").
import { execFileSync } from 'node:child_process';
import type { AnweddolTcpClient } from '../src/client/tcp-client.js';
import { managerHostname, MANAGER_HOST, pushSandboxImage, swarmDown, swarmUp, workerCommand, WORKER_ADDRESS, WORKER_HOST, WORKER_HOSTNAME } from '../test/helpers/swarm-harness.js';
import { buildDist, timedCreate, timedDestroy, type BenchDaemon } from './daemon-harness.js';
import { checkDeadline, MEMORY_MIB, option, p50p99, POOL_BENCH_LIMIT, poolFull, VCPUS, withPoolDaemon, type Sections } from './create-common.js';
import { measurePaths, printFigures, shapeContainerEgress, type ThroughputPath } from './ssh-throughput.js';


/** Cold CREATEs one after another (pool off), or warm ones (pool 2, full before each claim); each sandbox destroyed. */
async function createSeries(client: AnweddolTcpClient, count: number, warm: boolean): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    checkDeadline();
    if (warm) await poolFull(client, POOL_BENCH_LIMIT, 0);
    const { ms, data } = await timedCreate(client);
    times.push(ms);
    await timedDestroy(client, data);
  }
  return times;
}

/**
 * A sandbox on the worker: SSH to the port the client is told (the daemon's forwarder on 127.0.0.1) next to the node's
 * own published port (the kernel's DNAT there, no relay), unbounded then with the sandbox's sending side capped.
 */
async function swarmForwarding(client: AnweddolTcpClient, daemon: BenchDaemon): Promise<void> {
  const MIB = option('--mib', 200);
  const ROUNDS = option('--rounds', 3);
  const LINK_MBIT = option('--link', 1000);
  const { data } = await timedCreate(client);
  try {
    const managerEnv = { ...process.env, DOCKER_HOST: MANAGER_HOST, DOCKER_API_VERSION: '1.41' };
    const nodePort = Number(execFileSync('docker', ['service', 'inspect', '-f', '{{(index .Spec.EndpointSpec.Ports 0).PublishedPort}}', `anweddol-${data.container_uuid}`], { env: managerEnv, encoding: 'utf8' }).trim());
    const workerEnv = { ...process.env, DOCKER_HOST: WORKER_HOST, DOCKER_API_VERSION: '1.41' };
    const id = execFileSync('docker', ['ps', '-q', '--filter', `label=anweddol.uuid=${data.container_uuid}`], { env: workerEnv, encoding: 'utf8' }).trim();
    if (id === '') throw new Error('the forwarding case wants its sandbox on the worker (node.role==worker), and it is not there');
    const pid = Number(execFileSync('docker', ['inspect', '-f', '{{.State.Pid}}', id], { env: workerEnv, encoding: 'utf8' }).trim());
    const paths: ThroughputPath[] = [
      { name: `direct (the worker's published port ${WORKER_ADDRESS}:${nodePort})`, host: WORKER_ADDRESS, port: nodePort },
      { name: `forwarder (the port told to the client, 127.0.0.1:${data.container_listen_port})`, host: '127.0.0.1', port: data.container_listen_port, relayPid: daemon.child.pid! },
    ];
    const login = { username: data.container_username, password: data.container_password };
    console.log(`SSH throughput to a sandbox on the worker, ${MIB} MiB of \`head -c\` per run, ${ROUNDS} rounds; unbounded (CPU-bound on two cores):`);
    printFigures(await measurePaths(paths, login, MIB, ROUNDS, '    '));
    if (LINK_MBIT > 0) {
      shapeContainerEgress(pid, LINK_MBIT);
      console.log(`  the sandbox's sending side capped at ${LINK_MBIT} Mbit/s (a token bucket on its eth0):`);
      printFigures(await measurePaths(paths, login, MIB, ROUNDS, '    '));
    }
  } finally {
    await timedDestroy(client, data);
  }
}

/** The rows of README "Running on a swarm": cold and warm CREATE, single engine next to the two-node swarm, then the forwarder's cost. */
export async function runSwarmCases(): Promise<void> {
  const count = option('--sequential', 6);
  buildDist();
  console.log(`sandbox limits: ${VCPUS} vCPU, ${MEMORY_MIB} MiB; ${count} CREATEs per row; load before: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
  const managerHost = swarmUp();
  try {
    const image = pushSandboxImage();
    // With the default disk limit, as the single engine: each node caps sandboxes through its btrfs command.
    const swarm: Sections = {
      docker: { mode: 'swarm' },
      container: { image },
      swarm: {
        nodes: {
          [managerHostname()]: { docker: MANAGER_HOST, iptables: ['iptables'], btrfs: ['btrfs'] },
          [WORKER_HOSTNAME]: { docker: WORKER_HOST, iptables: workerCommand('iptables'), btrfs: workerCommand('btrfs') },
        },
      },
    };
    // The single engine is the manager's own dockerd in engine mode: same engine, same load, same image, only the backend differs.
    const backends: Array<[string, string, Sections]> = [
      ['single engine (the manager, docker.mode: engine)', managerHost, { container: { image } }],
      ['swarm (manager + worker, docker.mode: swarm)', managerHost, swarm],
      ['swarm without disk limit (container.disk_limit: null)', managerHost, { ...swarm, container: { image, disk_limit: null } }],
    ];
    for (const [name, host, extra] of backends) {
      const cold = await withPoolDaemon(host, 0, (client) => createSeries(client, count, false), extra);
      const warm = await withPoolDaemon(host, 2, (client) => createSeries(client, count, true), extra);
      console.log(`${name}: cold CREATE ${p50p99(cold)}; warm CREATE ${p50p99(warm)}`);
    }
    await withPoolDaemon(managerHost, 0, (client, _metrics, daemon) => swarmForwarding(client, daemon), {
      ...swarm,
      swarm: { ...swarm.swarm, constraints: ['node.role==worker'] },
    });
  } finally {
    swarmDown();
  }
}

