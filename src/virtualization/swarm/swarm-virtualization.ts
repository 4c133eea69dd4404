// The Docker Swarm sandbox backend: one service per sandbox, placed by the swarm scheduler, reached on its node's published port and through its node's engine.
import type Docker from 'dockerode';
import { EventEmitter } from 'node:events';
import { BackendUnavailableError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { putFilesInContainer, runInContainer } from '../docker/container-exec.js';
import { PORT_LABEL, resolveLimits, SERVER_LABEL, UUID_LABEL, type ContainerSettings } from '../docker/container-spec.js';
import { describe, DockerEngine, isConnectionError, statusCode } from '../docker/docker-engine.js';
import { SshWaitStrategy, type WaitStrategy } from '../docker/ssh-wait-strategy.js';
import { countSshSessions, PROCESS_TABLE_PS_ARGS, processTable } from '../ssh-sessions.js';
import { BackendConfigurationError, ForeignContainerError } from '../virtualization-errors.js';
import type {
  ExecResult,
  Sandbox,
  SandboxEndReason,
  SandboxFile,
  SandboxNetworkInfo,
  SandboxSpec,
  VirtualizationEvents,
  VirtualizationInterface,
} from '../virtualization-interface.js';
import { resolveServiceImage } from './image-reference.js';
import { ipvsAvailable, LOCAL_MESH_ADDRESS, NO_IPVS_MESSAGE, type PublishMode } from './routing-mesh.js';
import { NodeEngines } from './node-engines.js';
import { NodePreparation, type NodeFirewall } from './node-preparation.js';
import { SandboxHardening, withNoNewPrivs } from './sandbox-hardening.js';
import { buildServiceSpec } from './service-spec.js';
import { ensureSwarmNetwork } from './swarm-network.js';
import { SwarmPlacements } from './swarm-placements.js';
import { endReason, leftoverReason, TERMINAL_TASK_STATES, type PlacementVerdict, type SwarmNode } from './swarm-state.js';
import { provisionLogin, removeTaskContainer, runningTask, withTimeout } from './swarm-tasks.js';
import { runningSandboxes, SwarmWatch, type SwarmSnapshot } from './swarm-watch.js';
import type { SwarmVirtualizationOptions } from './swarm-options.js';

export type { SwarmVirtualizationOptions } from './swarm-options.js';

/** Node ports are not probed (other machines): a port a node still reserves fails the task and the next one is tried. */
const PORT_ATTEMPTS = 5;

export class SwarmVirtualization extends EventEmitter implements VirtualizationInterface {
  readonly name = 'swarm';
  private readonly engine: DockerEngine;
  private readonly nodes: NodeEngines;
  private readonly watch: SwarmWatch;
  private readonly preparation: NodePreparation;
  private readonly hardening: SandboxHardening;
  /** `image` as services name it: resolved at each connection (the registry's digest reference of the image built now). */
  private settings: ContainerSettings;
  private readonly placements: SwarmPlacements;
  private readonly wait: WaitStrategy;
  private readonly logger: Logger;
  private readonly readyTimeoutMs: number;
  private readonly destroyedByUs = new Set<string>();
  private readonly reportedEnded = new Set<string>();
  /** Service ids being created: their end is the creation's failure, not an event. */
  private readonly creating = new Set<string>();

  constructor(readonly options: SwarmVirtualizationOptions) {
    super();
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(options.serverId)) throw new RangeError('serverId must be 1-64 chars of [A-Za-z0-9_.-]');
    this.settings = {
      image: options.image ?? 'anweddol/sandbox:latest',
      serverId: options.serverId,
      networkName: options.networkName ?? `${options.serverId}-sandboxes`,
      publishedAddress: '0.0.0.0',
      clientSudo: options.clientSudo ?? false,
      // A service cannot carry one (API 1.41): each node's dockerd runs with --seccomp-profile instead.
      seccompProfile: null,
      limits: resolveLimits({ memoryMiB: options.memoryMiB, vcpus: options.vcpus, pidsLimit: options.pidsLimit, nofileLimit: options.nofileLimit, nprocLimit: options.nprocLimit }),
    };
    this.placements = new SwarmPlacements(options.nodePortRange ?? [30000, 32767], options.maxPerNode ?? null);
    this.readyTimeoutMs = (options.readyTimeoutSeconds ?? 30) * 1000;
    if (!(this.readyTimeoutMs > 0)) throw new RangeError('readyTimeoutSeconds must be > 0');
    this.wait = options.waitStrategy ?? new SshWaitStrategy({ timeoutMs: this.readyTimeoutMs });
    this.logger = options.logger ?? silentLogger;
    this.engine = new DockerEngine({
      dockerHost: options.dockerHost,
      serverId: options.serverId,
      logger: this.logger,
      maxReconnectDelayMs: options.maxReconnectDelayMs ?? 5000,
      prepare: () => this.prepare(),
    });
    this.nodes = new NodeEngines(this.engine.docker, options.nodes ?? {});
    this.hardening = new SandboxHardening({
      clientSudo: this.settings.clientSudo,
      memoryMiB: this.settings.limits.memoryMiB,
      diskLimitMiB: options.diskLimitMiB ?? null,
      btrfsOf: options.btrfsOf ?? (() => null),
      // No more sandboxes there until a later preparation passes.
      onNodeFailure: (node, why) => this.preparation.exclude(node, `sandbox hardening failed: ${why}`),
    });
    this.preparation = new NodePreparation({
      image: () => this.settings.image,
      networkName: this.settings.networkName,
      serverId: options.serverId,
      logger: this.logger,
      firewallOf: this.firewallOf(),
      checkNode: (node, docker) => this.hardening.checkNode(node, docker, this.settings.image),
    });
    this.watch = new SwarmWatch({
      manager: this.engine.docker,
      intervalMs: options.pollIntervalMs ?? 1000,
      logger: this.logger,
      onRefresh: (snapshot) => this.onRefresh(snapshot),
      onConnectionLost: (error) => this.engine.connectionLost(error),
    });
    this.engine.on('availability_changed', (available) => this.emit('availability_changed', available));
  }

  override on<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this {
    return super.on(event, listener);
  }

  override off<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this {
    return super.off(event, listener);
  }

  private get publishMode(): PublishMode {
    return this.options.publish ?? 'host';
  }

  private get manager(): Docker {
    return this.engine.docker;
  }

  isAvailable(): boolean {
    return this.engine.isAvailable();
  }

  /** STAT: what `max_per_node` leaves on the nodes that can take sandboxes now. */
  freeSlots(): number | undefined {
    return this.verdict().free;
  }

  /** Sandboxes reach the daemon through `fl.advertise_address` on a swarm, not a bridge gateway. */
  gatewayAddress(): string | undefined {
    return undefined;
  }

  /** Each node has its own bridge: there is no one network to describe. */
  networkInfo(): SandboxNetworkInfo | undefined {
    return undefined;
  }

  async start(): Promise<void> {
    await this.engine.start();
    this.watch.start();
  }

  async close(): Promise<void> {
    await this.watch.stop();
    await this.engine.close();
    if (this.options.removeRulesOnClose === true) await this.preparation.removeRules(this.watch.snapshot.nodes.values());
  }

  /** On every (re)connection: a manager, its nodes prepared, our network, then what ended while we were not watching. */
  private async prepare(): Promise<void> {
    if (this.publishMode === 'ingress' && !(this.options.ipvsAvailable ?? ipvsAvailable)()) throw new BackendConfigurationError(NO_IPVS_MESSAGE);
    const info = (await this.manager.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean; NodeID?: string } };
    if (info.Swarm?.LocalNodeState !== 'active' || info.Swarm.ControlAvailable !== true) {
      throw new BackendConfigurationError('docker.mode is swarm but docker.host is not a swarm manager (docker swarm init, or point docker.host at a manager)');
    }
    this.nodes.setManagerNodeId(info.Swarm.NodeID);
    // A rebuilt image not pushed again refuses the start (ImageNotInRegistryError) rather than run older bytes on some nodes.
    this.settings = { ...this.settings, image: await resolveServiceImage(this.manager, this.options.image ?? 'anweddol/sandbox:latest', this.options.registry ?? null) };
    this.preparation.reset();
    const snapshot = await this.watch.refresh();
    await this.prepareNodes(snapshot);
    await ensureSwarmNetwork(this.manager, this.settings.networkName);
    await this.takeStock();
  }

  private async prepareNodes(snapshot: SwarmSnapshot): Promise<void> {
    await Promise.all(
      [...snapshot.nodes.values()]
        .filter((node) => node.usable && !this.preparation.isPrepared(node.id))
        .map(async (node) => {
          const docker = this.nodes.engineOf(node);
          if (docker !== undefined) await this.preparation.prepare(node, docker);
        }),
    );
  }

  /** Ended services and an earlier run's unfinished creations are removed; running ones are held (ports, placement). */
  private async takeStock(): Promise<void> {
    const services = await this.ourServices();
    const { tasks, nodes } = this.watch.snapshot;
    this.placements.clear(this.creating);
    for (const service of services) {
      if (this.creating.has(service.ID)) continue;
      const task = tasks.get(service.ID);
      const reason = leftoverReason(task, task?.nodeId === undefined ? undefined : nodes.get(task.nodeId));
      const port = Number(service.Spec?.Labels?.[PORT_LABEL]);
      const extraPorts = (service.Endpoint?.Spec?.Ports ?? []).map((p) => p.PublishedPort ?? 0).filter((p) => p !== port && p > 0);
      if (reason !== undefined) {
        this.logger.info(`removing sandbox service ${service.ID.slice(0, 12)} (${reason})`);
        await this.destroy(service.ID).catch((error) => this.logger.warn(`cannot remove ${service.ID.slice(0, 12)}: ${describe(error)}`));
        continue;
      }
      this.placements.hold(service.ID, { uuid: service.Spec?.Labels?.[UUID_LABEL] ?? '', port, extraPorts, nodeId: task?.nodeId, containerId: task?.containerId });
    }
  }

  private async ourServices(): Promise<Docker.Service[]> {
    return this.manager.listServices({ filters: JSON.stringify({ label: [`${SERVER_LABEL}=${this.settings.serverId}`] }) } as Docker.ServiceListOptions);
  }

  private verdict(): PlacementVerdict {
    const nodes = [...this.watch.snapshot.nodes.values()];
    return this.placements.verdict(nodes, new Set(nodes.filter((n) => !this.preparation.isPrepared(n.id)).map((n) => n.id)));
  }

  async create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.createOnce(spec, signal);
      } catch (error) {
        if (attempt >= PORT_ATTEMPTS || !/port .*(in use|already|allocated)|address already in use/i.test(describe(error))) throw error;
        this.logger.debug(`sandbox port was taken on its node; retrying (${attempt})`);
      }
    }
  }

  private async createOnce(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    if (!this.isAvailable()) throw new BackendUnavailableError('virtualization backend unreachable');
    signal?.throwIfAborted();
    const verdict = await this.placements.roomFor(() => this.verdict(), withTimeout(signal, this.readyTimeoutMs));
    signal?.throwIfAborted();
    if (verdict.eligible.length === 0) throw new BackendUnavailableError('no swarm node can take a sandbox now (full, drained, down or unreachable)');
    const ports = await this.placements.begin(spec.publishPorts?.length ?? 0);
    if (ports === undefined) throw new BackendUnavailableError('no free node port for the sandbox');
    const { port, extraPorts } = ports;
    let serviceId: string | undefined;
    let placedNow = false;
    const t0 = performance.now();
    try {
      const placement = { constraints: this.options.constraints ?? [], spread: this.options.spread ?? [], excludedNodeIds: verdict.excluded.map((n) => n.id) };
      const serviceSpec = buildServiceSpec(this.settings, spec, port, placement, extraPorts, this.publishMode);
      const service = (await this.manager.createService({ ...serviceSpec, abortSignal: signal })) as unknown as { id: string };
      serviceId = service.id;
      this.creating.add(serviceId);
      const task = await runningTask(this.manager, serviceId, withTimeout(signal, this.readyTimeoutMs));
      const node = await this.nodeOf(task.nodeId);
      this.placements.place(serviceId, { uuid: spec.uuid, port, extraPorts, nodeId: node.id, containerId: task.containerId });
      placedNow = true;
      const docker = this.nodes.engineOf(node);
      if (docker === undefined) throw new Error(`no endpoint for swarm node ${node.hostname}`);
      // The node's bridge exists now; nobody can log in before provisioning: the rules go in first.
      await this.preparation.ensureRules(node, docker);
      const t1 = performance.now();
      // Limits and the seccomp check, then no_new_privs once sshd runs as PID 1, then the login: nobody holds a credential before all of them.
      // Through the mesh the port answers here too (and clients connect here straight, no forwarder); else on its node.
      const reach = this.publishMode === 'ingress' ? LOCAL_MESH_ADDRESS : node.address;
      const [, , info] = await Promise.all([
        this.wait.waitUntilReady({ host: reach, port }, signal),
        this.hardening.limit(node, docker, task.containerId, signal),
        docker.getContainer(task.containerId).inspect(),
        this.hardening.verifySeccomp(node, docker, task.containerId, signal),
      ]);
      await this.hardening.verifyNoNewPrivs(node, docker, task.containerId, signal);
      await provisionLogin(docker, task.containerId, spec, this.settings.clientSudo, signal);
      signal?.throwIfAborted();
      this.logger.debug(`sandbox service ${serviceId.slice(0, 12)} on ${node.hostname}:${port} ready in ${Math.round(performance.now() - t0)} ms (placed ${Math.round(t1 - t0)} ms)`);
      return {
        id: serviceId,
        uuid: spec.uuid,
        port,
        ...(this.publishMode === 'ingress' ? { sshEndpoint: { host: reach, port } } : { host: node.address }),
        ...(extraPorts.length === 0
          ? {}
          : { publishedPorts: Object.fromEntries((spec.publishPorts ?? []).map((target, i) => [target, { host: reach, port: extraPorts[i]! }])) }),
        imageSha256: info.Image.replace(/^sha256:/, ''),
        labels: info.Config.Labels ?? {},
        ipAddress: info.NetworkSettings.Networks[this.settings.networkName]?.IPAddress || undefined,
      };
    } catch (error) {
      if (serviceId !== undefined) await this.destroy(serviceId).catch((e) => this.logger.warn(`cleanup of service ${serviceId!.slice(0, 12)} failed: ${describe(e)}`));
      this.placements.abandon([port, ...extraPorts], placedNow);
      throw this.unavailableIfDisconnected(error);
    } finally {
      if (serviceId !== undefined) this.creating.delete(serviceId);
    }
  }

  private async nodeOf(nodeId: string): Promise<SwarmNode> {
    const known = this.watch.snapshot.nodes.get(nodeId);
    if (known !== undefined) return known;
    const node = (await this.watch.refresh()).nodes.get(nodeId);
    if (node === undefined) throw new Error(`swarm node ${nodeId} is unknown`);
    return node;
  }

  /** Inspects first: only a service carrying our ownership label is removed; one already gone counts as removed. */
  async destroy(id: string): Promise<void> {
    let fullId: string;
    try {
      const info = (await this.manager.getService(id).inspect()) as { ID: string; Spec?: { Labels?: Record<string, string> } };
      if (info.Spec?.Labels?.[SERVER_LABEL] !== this.settings.serverId) throw new ForeignContainerError(id);
      fullId = info.ID;
    } catch (error) {
      if (statusCode(error) !== 404) throw this.unavailableIfDisconnected(error);
      this.forget(id);
      return;
    }
    this.destroyedByUs.add(fullId);
    // Where its container runs, found while the service (and so its task) still exists; none on a lost node.
    const task = await this.onNode(fullId, async (docker, containerId) => ({ docker, containerId })).catch(() => undefined);
    try {
      await this.manager.getService(fullId).remove();
    } catch (error) {
      if (statusCode(error) !== 404) {
        this.destroyedByUs.delete(fullId);
        throw this.unavailableIfDisconnected(error);
      }
    }
    if (task !== undefined) await removeTaskContainer(task.docker, task.containerId).catch((error: unknown) => this.logger.warn(`sandbox ${fullId.slice(0, 12)}: container not removed at once (swarm will): ${describe(error)}`));
    this.forget(fullId);
  }

  async list(): Promise<Sandbox[]> {
    const [services, snapshot] = await Promise.all([this.ourServices(), this.watch.refresh()]);
    return runningSandboxes(services, snapshot, this.publishMode);
  }

  exec(id: string, cmd: string[], options: { user?: string; env?: Record<string, string>; detach?: boolean; timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.onNode(id, (docker, containerId) => runInContainer(docker, containerId, this.settings.clientSudo ? cmd : withNoNewPrivs(cmd), options));
  }

  /** `docker top` on the sandbox's node: no exec inside the sandbox. */
  countSshSessions(id: string): Promise<number> {
    return this.onNode(id, async (docker, containerId) => {
      const top = (await docker.getContainer(containerId).top({ ps_args: PROCESS_TABLE_PS_ARGS })) as { Titles?: string[]; Processes?: string[][] };
      return countSshSessions(processTable(top));
    });
  }

  putFiles(id: string, directory: string, files: SandboxFile[]): Promise<void> {
    return this.onNode(id, (docker, containerId) => putFilesInContainer(docker, containerId, directory, files));
  }

  /** Runs a step against the engine of the node the sandbox runs on. */
  private async onNode<T>(id: string, step: (docker: Docker, containerId: string) => Promise<T>): Promise<T> {
    let nodeId = this.placements.get(id)?.nodeId;
    let containerId = this.placements.get(id)?.containerId;
    if (nodeId === undefined) {
      // Not one we placed in this run (a restarted daemon): ask the swarm where it runs.
      const task = (await this.watch.refresh()).tasks.get(id);
      if (task?.state === 'running') ({ nodeId, containerId } = task);
    }
    if (nodeId === undefined || containerId === undefined) throw new Error(`sandbox ${id.slice(0, 12)} is not running on any node`);
    const node = await this.nodeOf(nodeId);
    const docker = this.nodes.engineOf(node);
    if (docker === undefined) throw new Error(`no endpoint for swarm node ${node.hostname}`);
    return step(docker, containerId);
  }

  /** Every period: sandboxes whose node was lost or whose task ended are reported once and removed; new nodes are prepared. */
  private async onRefresh(snapshot: SwarmSnapshot): Promise<void> {
    if (!this.isAvailable()) return;
    for (const [serviceId, placed] of this.placements.entries()) {
      if (this.creating.has(serviceId) || this.destroyedByUs.has(serviceId) || this.reportedEnded.has(serviceId)) continue;
      const task = snapshot.tasks.get(serviceId);
      if (placed.nodeId === undefined && task?.state !== undefined && !TERMINAL_TASK_STATES.has(task.state)) continue;
      const reason = endReason(task, placed.nodeId === undefined ? undefined : snapshot.nodes.get(placed.nodeId));
      if (reason !== undefined) this.ended(serviceId, placed.uuid, reason);
    }
    await this.prepareNodes(snapshot);
  }

  private ended(serviceId: string, uuid: string, reason: SandboxEndReason): void {
    this.reportedEnded.add(serviceId);
    this.logger.info(`sandbox service ${serviceId.slice(0, 12)} ended (${reason})`);
    this.emit('sandbox_ended', { id: serviceId, uuid, reason });
    // Never restarted: the service goes, its port and its node slot come free.
    void this.destroy(serviceId)
      .catch((error) => this.logger.warn(`cannot remove ended sandbox service ${serviceId.slice(0, 12)}: ${describe(error)}`))
      .finally(() => this.reportedEnded.delete(serviceId));
  }

  private forget(id: string): void {
    this.placements.forget(id);
  }

  private unavailableIfDisconnected(error: unknown): unknown {
    if (error instanceof BackendUnavailableError || !isConnectionError(error)) return error;
    this.engine.connectionLost(error);
    return new BackendUnavailableError('virtualization backend unreachable', { cause: error });
  }

  private firewallOf(): ((node: SwarmNode) => NodeFirewall | null) | undefined {
    const of = this.options.firewallOf;
    return of && ((node) => of(node, () => [...this.watch.snapshot.nodes.values()].map((n) => n.address).filter((a) => a !== '')));
  }
}

