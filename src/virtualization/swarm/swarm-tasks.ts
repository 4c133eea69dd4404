// A new sandbox's task: waiting until it runs on a node, then creating the client's login through that node's engine.
import type Docker from 'dockerode';
import { runInContainer } from '../docker/container-exec.js';
import { sleep, statusCode } from '../docker/docker-engine.js';
import type { SandboxSpec } from '../virtualization-interface.js';
import { latestTasks, TERMINAL_TASK_STATES, type SwarmTask } from './swarm-state.js';

const SETUP_ENDPOINT = '/usr/local/sbin/anweddol-setup-endpoint';
const TASK_POLL_MS = 100;

export type RunningTask = SwarmTask & { nodeId: string; containerId: string };

/** Waits for the service's task to run; a task that ended (rejected: port taken, no image…) fails with its error. */
export async function runningTask(manager: Docker, serviceId: string, signal: AbortSignal): Promise<RunningTask> {
  while (!signal.aborted) {
    const tasks = await manager.listTasks({ filters: JSON.stringify({ service: [serviceId] }) });
    const [task] = [...latestTasks(tasks as Parameters<typeof latestTasks>[0]).values()];
    if (task?.state === 'running' && task.nodeId !== undefined && task.containerId !== undefined) return task as RunningTask;
    if (task !== undefined && TERMINAL_TASK_STATES.has(task.state)) throw new Error(`sandbox task ${task.state}: ${task.error ?? 'no reason given'}`);
    await sleep(TASK_POLL_MS, signal);
  }
  throw signal.reason instanceof Error ? signal.reason : new Error('sandbox task did not start in time');
}

/** Creates the client login from the spec; the password travels on stdin only. */
export async function provisionLogin(docker: Docker, containerId: string, spec: SandboxSpec, clientSudo: boolean, signal?: AbortSignal): Promise<void> {
  const args = [SETUP_ENDPOINT, spec.username, ...(clientSudo ? ['--sudo'] : [])];
  const result = await runInContainer(docker, containerId, args, { stdin: `${spec.password}\n`, timeoutMs: 30_000, signal });
  if (result.exitCode !== 0) throw new Error(`endpoint setup failed (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 500)}`);
}

/**
 * Kills and removes a removed service's container on its node at once, as the engine backend's destroy does: swarm
 * would stop it only seconds later (its agent's pace, then a stop grace period), with the sandbox still running. One
 * already gone (404) or being removed by swarm itself (409) is fine.
 */
export async function removeTaskContainer(docker: Docker, containerId: string): Promise<void> {
  try {
    await docker.getContainer(containerId).remove({ force: true, v: true });
  } catch (error) {
    const code = statusCode(error);
    if (code !== 404 && code !== 409) throw error;
  }
}

/** `signal`, also aborted after `ms`. */
export function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const deadline = AbortSignal.timeout(ms);
  return signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
}
