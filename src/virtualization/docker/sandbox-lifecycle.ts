// Sandboxes on dockerd: create (container, start, readiness, credentials), destroy (ours only), list, and taking stock after every (re)connection.
import { BackendUnavailableError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { ForeignContainerError } from '../virtualization-errors.js';
import type { Sandbox, SandboxEndReason, SandboxNetworkInfo, SandboxSpec, VirtualizationEvents } from '../virtualization-interface.js';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { buildContainerSpec, PORT_LABEL, PROVISIONING_LABEL, SERVER_LABEL, UUID_LABEL, type ContainerSettings, type Provisioning } from './container-spec.js';
import { runInContainer } from './container-exec.js';
import { assertDiskLimitSupported } from './disk-limit-support.js';
import { describe, isConnectionError, sleep, statusCode, type ContainerEvent, type DockerEngine } from './docker-engine.js';
import type { PortPool } from './port-pool.js';
import { ensureSandboxNetwork, releaseSandboxNetwork } from './sandbox-network.js';
import type { WaitStrategy } from './ssh-wait-strategy.js';

const SETUP_ENDPOINT = '/usr/local/sbin/anweddol-setup-endpoint';
const REMEMBERED_DESTROYS = 4096;
const PORT_ATTEMPTS = 3;
const REMOVAL_WAIT_MS = 30_000;

export interface SandboxLifecycleOptions {
  engine: DockerEngine;
  settings: ContainerSettings;
  ports: PortPool;
  wait: WaitStrategy;
  logger: Logger;
  /** A sandbox ended without us asking (reported once per sandbox). */
  onSandboxEnded: VirtualizationEvents['sandbox_ended'];
}

export class SandboxLifecycle {
  private network: SandboxNetworkInfo | undefined;
  /** How the configured image makes the client login, as it said at the last (re)connection. */
  private provisioning: Provisioning = 'exec';
  /** Port of each sandbox we know of, by container id. */
  private readonly sandboxPorts = new Map<string, number>();
  /** Containers we removed ourselves: their die/destroy events are not "ended behind our back". */
  private readonly destroyedByUs = new Set<string>();
  /** Sandboxes already reported as ended (die, then destroy, must be reported once). */
  private readonly reportedEnded = new Set<string>();
  /** Sandboxes where the OOM killer fired: if they die next, the reason is 'oom'. */
  private readonly oomKilled = new Set<string>();
  /** Removals of containers whose creation was abandoned (aborted) before dockerd answered. */
  private readonly lateRemovals = new Set<Promise<unknown>>();

  constructor(private readonly options: SandboxLifecycleOptions) {
    options.engine.on('container_event', (event) => this.onContainerEvent(event));
  }

  private get docker() {
    return this.options.engine.docker;
  }

  private get settings(): ContainerSettings {
    return this.options.settings;
  }

  networkInfo(): SandboxNetworkInfo | undefined {
    return this.network;
  }

  /** At close: removes the sandbox network if this server made it and nothing is attached to it any more. */
  releaseNetwork(): Promise<boolean> {
    return releaseSandboxNetwork(this.docker, this.settings.networkName, this.settings.serverId);
  }

  portsInUse(): number {
    return this.options.ports.inUse;
  }

  /** On every (re)connection: the network, the disk-limit promise, then what happened to our sandboxes while we were not watching. */
  async prepare(): Promise<void> {
    this.network = await ensureSandboxNetwork(this.docker, this.settings.networkName, this.settings.serverId);
    this.provisioning = await this.imageProvisioning();
    const disk = this.settings.limits.diskLimitMiB;
    if (disk !== null) await assertDiskLimitSupported(this.docker, this.settings.image, disk);
    await this.removeEndedSandboxes();
    const live = await this.list();
    // Sandboxes that vanished while we were not watching give their ports back.
    const liveIds = new Set(live.map((sandbox) => sandbox.id));
    for (const [id, port] of this.sandboxPorts) if (!liveIds.has(id)) this.options.ports.release(port);
    this.sandboxPorts.clear();
    for (const sandbox of live) {
      this.sandboxPorts.set(sandbox.id, sandbox.port);
      this.options.ports.hold(sandbox.port);
    }
  }

  async create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    // A port can be taken by someone else between our probe and dockerd binding it: try another.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.createOnce(spec, signal);
      } catch (error) {
        if (attempt >= PORT_ATTEMPTS || !/port is already allocated|address already in use/i.test(describe(error))) throw error;
        this.options.logger.debug(`sandbox port was taken meanwhile; retrying (${attempt})`);
      }
    }
  }

  private async createOnce(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    if (!this.options.engine.isAvailable()) throw new BackendUnavailableError('virtualization backend unreachable');
    signal?.throwIfAborted();
    const port = await this.options.ports.acquire();
    if (port === undefined) throw new BackendUnavailableError('no free port for the sandbox');
    let containerId: string | undefined;
    // Set when an abort left the create request to finish on its own: its late removal then owns the port.
    let abandoned = false;
    let stdin: Duplex | undefined;
    const t0 = performance.now();
    const phases: string[] = [];
    const mark = (phase: string, since: number) => phases.push(`${phase} ${Math.round(performance.now() - since)} ms`);
    try {
      const provisioning = this.provisioning;
      containerId = await this.createContainer(spec, port, provisioning, signal, () => (abandoned = true));
      mark('create', t0);
      this.sandboxPorts.set(containerId, port);
      const container = this.docker.getContainer(containerId);
      const t1 = performance.now();
      // Attached before start, so the entrypoint finds the password waiting on its stdin.
      stdin = provisioning === 'entrypoint' ? await attachStdin(container, signal) : undefined;
      await container.start({ abortSignal: signal });
      mark('start', t1);
      const t2 = performance.now();
      const target = { host: this.probeAddress(), port };
      const [, info] = await Promise.all([
        stdin === undefined
          ? // sshd readiness and credentials are independent: do both at once.
            Promise.all([this.options.wait.waitUntilReady(target, signal), this.provision(containerId, spec, signal)])
          : this.loginThenReady(container, stdin, spec.password, target, signal),
        container.inspect({ abortSignal: signal }),
      ]).finally(() => mark('ready', t2));
      // The image was replaced since we read its label with one whose entrypoint makes no login: make it the old way.
      if (provisioning === 'entrypoint' && info.Config.Labels?.[PROVISIONING_LABEL] !== 'entrypoint') await this.provision(containerId, spec, signal);
      signal?.throwIfAborted();
      this.options.logger.debug(`sandbox ${containerId.slice(0, 12)} on port ${port} ready in ${Math.round(performance.now() - t0)} ms (${phases.join(', ')})`);
      return {
        id: containerId,
        uuid: spec.uuid,
        port,
        imageSha256: info.Image.replace(/^sha256:/, ''),
        labels: info.Config.Labels ?? {},
        ...bridgeEndpoint(info.NetworkSettings.Networks[this.settings.networkName]?.IPAddress),
      };
    } catch (error) {
      stdin?.destroy();
      if (containerId !== undefined) await this.destroy(containerId).catch((e) => this.options.logger.warn(`cleanup of ${containerId!.slice(0, 12)} failed: ${describe(e)}`));
      else if (!abandoned) this.options.ports.release(port);
      throw this.unavailableIfDisconnected(error);
    }
  }

  /**
   * The create request itself is never cut: dockerd may make the container after we hang up, and only its answer
   * names it. An abort rejects at once; the container, when the answer comes, is removed (tracked: close() waits).
   */
  private async createContainer(
    spec: SandboxSpec,
    port: number,
    provisioning: Provisioning,
    signal: AbortSignal | undefined,
    onAbandoned: () => void,
  ): Promise<string> {
    const request = this.docker.createContainer(buildContainerSpec(this.settings, spec, port, provisioning)).then((c) => c.id);
    if (signal === undefined) return request;
    try {
      return await abortable(request, signal);
    } catch (error) {
      if (!signal.aborted) throw error;
      onAbandoned();
      const removal = request.then(
        (id) => {
          this.sandboxPorts.set(id, port);
          return this.destroy(id).catch((e) => this.options.logger.warn(`cleanup of ${id.slice(0, 12)} failed: ${describe(e)}`));
        },
        () => this.options.ports.release(port),
      );
      this.lateRemovals.add(removal);
      void removal.finally(() => this.lateRemovals.delete(removal));
      throw error;
    }
  }

  /** Waits (bounded) for containers whose creation was abandoned to be removed; any left are reconciled at the next start. */
  async settleLateRemovals(timeoutMs: number): Promise<void> {
    if (this.lateRemovals.size === 0) return;
    await abortable(Promise.allSettled([...this.lateRemovals]), AbortSignal.timeout(timeoutMs)).catch(() => {
      this.options.logger.warn(`${this.lateRemovals.size} abandoned sandbox creation(s) still unanswered by dockerd; removed at the next start`);
    });
  }

  /** Inspects first: only a container carrying our ownership label is removed; one already gone counts as removed. */
  async destroy(id: string): Promise<void> {
    let fullId: string;
    try {
      const info = await this.docker.getContainer(id).inspect();
      if (info.Config.Labels?.[SERVER_LABEL] !== this.settings.serverId) throw new ForeignContainerError(id);
      // Removing by the inspected id, not the caller's name or prefix: the name could be reused meanwhile.
      fullId = info.Id;
    } catch (error) {
      if (statusCode(error) !== 404) throw this.unavailableIfDisconnected(error);
      this.forget(id);
      return;
    }
    this.rememberDestroy(fullId);
    try {
      await this.docker.getContainer(fullId).remove({ force: true, v: true });
    } catch (error) {
      const code = statusCode(error);
      // 404: already gone; 409: removal already in progress (e.g. started by its die event), which we see through.
      if (code === 409) await this.untilGone(fullId);
      else if (code !== 404) {
        this.destroyedByUs.delete(fullId);
        throw this.unavailableIfDisconnected(error);
      }
    }
    this.forget(fullId);
  }

  /** Resolves once dockerd no longer knows the container (bounded: a removal in progress normally takes well under that). */
  private async untilGone(id: string): Promise<void> {
    const deadline = Date.now() + REMOVAL_WAIT_MS;
    while (Date.now() < deadline) {
      try {
        await this.docker.getContainer(id).inspect();
      } catch (error) {
        if (statusCode(error) === 404) return;
        throw this.unavailableIfDisconnected(error);
      }
      await sleep(100);
    }
    this.options.logger.warn(`container ${id.slice(0, 12)} still being removed after ${REMOVAL_WAIT_MS / 1000} s`);
  }

  async list(): Promise<Sandbox[]> {
    const containers = await this.docker.listContainers({
      all: false,
      filters: JSON.stringify({ label: [`${SERVER_LABEL}=${this.settings.serverId}`], status: ['running'] }),
    });
    return containers.map((c) => ({
      id: c.Id,
      uuid: c.Labels[UUID_LABEL] ?? '',
      port: Number(c.Labels[PORT_LABEL] ?? c.Ports.find((p) => p.PrivatePort === 22)?.PublicPort ?? 0),
      imageSha256: c.ImageID.replace(/^sha256:/, ''),
      labels: c.Labels,
      ...bridgeEndpoint(c.NetworkSettings?.Networks?.[this.settings.networkName]?.IPAddress),
    }));
  }

  /** A connection error means dockerd is gone: the engine reconnects, the caller gets Unavailable. */
  unavailableIfDisconnected(error: unknown): unknown {
    if (error instanceof BackendUnavailableError || !isConnectionError(error)) return error;
    this.options.engine.connectionLost(error);
    return new BackendUnavailableError('virtualization backend unreachable', { cause: error });
  }

  private probeAddress(): string {
    const published = this.settings.publishedAddress;
    if (published === '0.0.0.0') return '127.0.0.1';
    if (published === '::') return '::1';
    return published;
  }

  /**
   * The entrypoint makes the login, then starts sshd: the password goes to its stdin (then closed), and the banner
   * means both are done. A setup that fails ends the container, which fails the creation at once, not at the timeout.
   */
  private async loginThenReady(container: Docker.Container, stdin: Duplex, password: string, target: { host: string; port: number }, signal?: AbortSignal): Promise<void> {
    stdin.end(`${password}\n`);
    const exited = new AbortController();
    const stop = signal === undefined ? exited.signal : AbortSignal.any([signal, exited.signal]);
    (container.wait({ abortSignal: stop }) as Promise<{ StatusCode?: number }>).then(
      (result) => exited.abort(new Error(`sandbox exited while making the client login (exit ${result.StatusCode ?? '?'})`)),
      () => {},
    );
    try {
      await this.options.wait.waitUntilReady(target, stop);
    } finally {
      // Ends the wait request (and the attach) once the sandbox is ready or given up.
      exited.abort();
      stdin.destroy();
    }
  }

  /** The image's own word on how its login is made; an image we cannot inspect (missing: creation will say so) gets exec. */
  private async imageProvisioning(): Promise<Provisioning> {
    try {
      const info = await this.docker.getImage(this.settings.image).inspect();
      return info.Config?.Labels?.[PROVISIONING_LABEL] === 'entrypoint' ? 'entrypoint' : 'exec';
    } catch (error) {
      if (statusCode(error) === 404) return 'exec';
      throw error;
    }
  }

  /** Creates the client login from the spec; the password travels on stdin only. */
  private async provision(id: string, spec: SandboxSpec, signal?: AbortSignal): Promise<void> {
    const args = [SETUP_ENDPOINT, spec.username, ...(this.settings.clientSudo ? ['--sudo'] : [])];
    const result = await runInContainer(this.docker, id, args, { stdin: `${spec.password}\n`, timeoutMs: 30_000, signal });
    if (result.exitCode !== 0) {
      throw new Error(`endpoint setup failed (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 500)}`);
    }
  }

  /** Containers of ours that are not running are ended sandboxes (they died while we were not watching). */
  private async removeEndedSandboxes(): Promise<void> {
    const all = await this.docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${SERVER_LABEL}=${this.settings.serverId}`] }),
    });
    for (const c of all) {
      if (c.State === 'running') continue;
      this.options.logger.info(`removing ended sandbox ${c.Id.slice(0, 12)} (${c.State})`);
      await this.destroy(c.Id).catch((error) => this.options.logger.warn(`cannot remove ${c.Id.slice(0, 12)}: ${describe(error)}`));
      const port = Number(c.Labels[PORT_LABEL]);
      if (Number.isInteger(port)) this.options.ports.release(port);
    }
  }

  private onContainerEvent({ id, action, uuid }: ContainerEvent): void {
    if (this.destroyedByUs.has(id) || this.reportedEnded.has(id)) return;
    if (action === 'oom') {
      // The OOM killer hit a process in the sandbox; the sandbox only ends if its init dies too (a `die` follows).
      this.oomKilled.add(id);
      return;
    }
    const reason: SandboxEndReason | undefined =
      action === 'die' ? (this.oomKilled.has(id) ? 'oom' : 'died') : action === 'stop' ? 'stopped' : action === 'destroy' ? 'removed' : undefined;
    if (reason === undefined) return;
    this.oomKilled.delete(id);
    this.reportedEnded.add(id);
    this.options.logger.info(`sandbox ${id.slice(0, 12)} ended (${reason})`);
    this.options.onSandboxEnded({ id, ...(uuid === undefined ? {} : { uuid }), reason });
    // An ended sandbox is never restarted: remove it and free its port.
    void this.destroy(id)
      .catch((error) => this.options.logger.warn(`cannot remove ended sandbox ${id.slice(0, 12)}: ${describe(error)}`))
      .finally(() => this.reportedEnded.delete(id));
  }

  private rememberDestroy(id: string): void {
    this.destroyedByUs.add(id);
    if (this.destroyedByUs.size > REMEMBERED_DESTROYS) {
      const oldest = this.destroyedByUs.values().next().value;
      if (oldest !== undefined) this.destroyedByUs.delete(oldest);
    }
  }

  private forget(id: string): void {
    this.oomKilled.delete(id);
    const port = this.sandboxPorts.get(id);
    if (port !== undefined) this.options.ports.release(port);
    this.sandboxPorts.delete(id);
  }
}

/** The sandbox's bridge address, and its sshd there (port 22, no docker-proxy in between): what a forwarder pipes to. */
function bridgeEndpoint(ipAddress: string | undefined): Pick<Sandbox, 'ipAddress' | 'sshEndpoint'> {
  return ipAddress ? { ipAddress, sshEndpoint: { host: ipAddress, port: 22 } } : {};
}

/** `work`, or a rejection with the signal's reason as soon as it aborts (the work itself goes on). */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** The container's stdin, for the one write of the password (StdinOnce: closed by Docker once we hang up). */
async function attachStdin(container: Docker.Container, signal: AbortSignal | undefined): Promise<Duplex> {
  const stdin = (await container.attach({ stream: true, stdin: true, stdout: false, stderr: false, hijack: true, abortSignal: signal })) as unknown as Duplex;
  // A broken attach leaves the entrypoint without a password: its setup fails and ends the container, which is what reports it.
  stdin.on('error', () => {});
  return stdin;
}
