// The Docker sandbox backend (the only module that talks to dockerd): create/provision/destroy, events, reconnection.
import Docker from 'dockerode';
import { EventEmitter } from 'node:events';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { BackendUnavailableError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import type {
  ExecResult,
  Sandbox,
  SandboxEndReason,
  SandboxFile,
  SandboxSpec,
  VirtualizationEvents,
  VirtualizationInterface,
} from '../virtualization-interface.js';
import { bindProbe, PortPool } from './port-pool.js';
import { SshWaitStrategy, type WaitStrategy } from './ssh-wait-strategy.js';

export interface DockerVirtualizationOptions {
  /** `unix:///path/docker.sock` or `tcp://host:port`; default `$DOCKER_HOST` semantics of dockerode. */
  dockerHost?: string;
  image?: string;
  /** Ownership label `anweddol.server=<serverId>`: what this server created, lists and cleans up. */
  serverId: string;
  /** Address the forwarded SSH ports bind to. */
  publishedAddress?: string;
  portRange?: [number, number];
  memoryMiB?: number;
  vcpus?: number;
  pidsLimit?: number;
  readyTimeoutSeconds?: number;
  /** Passwordless sudo for the client; requires giving up no-new-privileges and the capability drop. */
  clientSudo?: boolean;
  /** User-defined bridge the sandboxes live on (created with inter-container traffic disabled). */
  networkName?: string;
  logger?: Logger;
  /** Readiness check; default: an SSH banner through the published port. */
  waitStrategy?: WaitStrategy;
  /** Ceiling of the reconnection backoff. */
  maxReconnectDelayMs?: number;
}

export const SERVER_LABEL = 'anweddol.server';
export const UUID_LABEL = 'anweddol.uuid';
export const PORT_LABEL = 'anweddol.port';
const SETUP_ENDPOINT = '/usr/local/sbin/anweddol-setup-endpoint';
/** What sshd (privilege separation, PAM, logins) and the endpoint setup need; everything else is dropped. */
const SANDBOX_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID', 'SYS_CHROOT', 'NET_BIND_SERVICE', 'AUDIT_WRITE', 'KILL'];
const MAX_EXEC_OUTPUT = 8 * 1024 * 1024;
const REMEMBERED_DESTROYS = 4096;
const PORT_ATTEMPTS = 3;

type State = 'stopped' | 'connecting' | 'available' | 'unavailable' | 'closed';

interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  time?: number;
  timeNano?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

function dockerFromHost(host: string | undefined): Docker {
  if (host === undefined || host === '') return new Docker();
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  if (host.startsWith('tcp://') || host.startsWith('http://')) {
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
  }
  if (host.startsWith('/')) return new Docker({ socketPath: host });
  throw new RangeError(`unsupported docker host ${JSON.stringify(host)} (use unix:///… or tcp://host:port)`);
}

function statusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** Errors that mean dockerd itself is gone (not that one request was refused). */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const json = (error as { json?: { message?: string } }).json;
    return json?.message ?? error.message;
  }
  return String(error);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Collects a stream up to a size cap (the rest is dropped, not buffered). */
function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    if (size >= MAX_EXEC_OUTPUT) return;
    chunks.push(chunk);
    size += chunk.length;
  });
  return () => Buffer.concat(chunks).subarray(0, MAX_EXEC_OUTPUT).toString('utf8');
}

export class DockerVirtualization extends EventEmitter implements VirtualizationInterface {
  readonly name = 'docker';
  private readonly docker: Docker;
  private readonly image: string;
  private readonly publishedAddress: string;
  private readonly networkName: string;
  private readonly logger: Logger;
  private readonly ports: PortPool;
  private readonly wait: WaitStrategy;
  private readonly memoryMiB: number;
  private readonly vcpus: number;
  private readonly pidsLimit: number;
  private readonly clientSudo: boolean;
  private readonly maxReconnectDelayMs: number;
  private state: State = 'stopped';
  private gateway: string | undefined;
  /** Port of each sandbox we know of, by container id. */
  private readonly sandboxPorts = new Map<string, number>();
  /** Containers we removed ourselves: their die/destroy events are not "ended behind our back". */
  private readonly destroyedByUs = new Set<string>();
  /** Sandboxes already reported as ended (die, then destroy, must be reported once). */
  private readonly reportedEnded = new Set<string>();
  /** Sandboxes where the OOM killer fired: if they die next, the reason is 'oom'. */
  private readonly oomKilled = new Set<string>();
  private events: Readable | undefined;
  private lastEventTimeNano: bigint | undefined;
  private reconnecting: Promise<void> | undefined;
  private readonly closing = new AbortController();

  constructor(readonly options: DockerVirtualizationOptions) {
    super();
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(options.serverId)) throw new RangeError('serverId must be 1-64 chars of [A-Za-z0-9_.-]');
    this.docker = dockerFromHost(options.dockerHost);
    this.image = options.image ?? 'anweddol/sandbox:latest';
    this.publishedAddress = options.publishedAddress ?? '0.0.0.0';
    this.networkName = options.networkName ?? 'anweddol-sandboxes';
    this.logger = options.logger ?? silentLogger;
    const [first, last] = options.portRange ?? [10000, 15000];
    this.ports = new PortPool(first, last, bindProbe(this.publishedAddress));
    this.memoryMiB = options.memoryMiB ?? 1024;
    this.vcpus = options.vcpus ?? 2;
    this.pidsLimit = options.pidsLimit ?? 256;
    this.clientSudo = options.clientSudo ?? false;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? 5000;
    if (!(this.memoryMiB >= 6)) throw new RangeError('memoryMiB must be ≥ 6');
    if (!(this.vcpus > 0)) throw new RangeError('vcpus must be > 0');
    if (!Number.isInteger(this.pidsLimit) || this.pidsLimit < 16) throw new RangeError('pidsLimit must be an integer ≥ 16');
    const readyTimeoutSeconds = options.readyTimeoutSeconds ?? 30;
    if (!(readyTimeoutSeconds > 0)) throw new RangeError('readyTimeoutSeconds must be > 0');
    this.wait = options.waitStrategy ?? new SshWaitStrategy({ timeoutMs: readyTimeoutSeconds * 1000 });
  }

  override on<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this {
    return super.on(event, listener);
  }

  override off<E extends keyof VirtualizationEvents>(event: E, listener: VirtualizationEvents[E]): this {
    return super.off(event, listener);
  }

  isAvailable(): boolean {
    return this.state === 'available';
  }

  gatewayAddress(): string | undefined {
    return this.gateway;
  }

  /** Ports currently handed to sandboxes (for tests and statistics). */
  portsInUse(): number {
    return this.ports.inUse;
  }

  async start(): Promise<void> {
    if (this.state !== 'stopped') return;
    this.state = 'connecting';
    try {
      await this.connect();
      this.setAvailable(true);
    } catch (error) {
      this.logger.warn(`docker backend unavailable at start: ${describe(error)}`);
      this.setAvailable(false);
      this.scheduleReconnect();
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closing.abort();
    this.events?.destroy();
    this.events = undefined;
    await this.reconnecting?.catch(() => {});
  }

  async create(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    // A port can be taken by someone else between our probe and dockerd binding it: try another.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.createOnce(spec, signal);
      } catch (error) {
        if (attempt >= PORT_ATTEMPTS || !/port is already allocated|address already in use/i.test(describe(error))) throw error;
        this.logger.debug(`sandbox port was taken meanwhile; retrying (${attempt})`);
      }
    }
  }

  private async createOnce(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    if (!this.isAvailable()) throw new BackendUnavailableError('virtualization backend unreachable');
    signal?.throwIfAborted();
    const port = await this.ports.acquire();
    if (port === undefined) throw new BackendUnavailableError('no free port for the sandbox');
    let containerId: string | undefined;
    const t0 = performance.now();
    const phases: string[] = [];
    const mark = (phase: string, since: number) => phases.push(`${phase} ${Math.round(performance.now() - since)} ms`);
    try {
      containerId = await this.createContainer(spec, port, signal);
      mark('create', t0);
      this.sandboxPorts.set(containerId, port);
      const container = this.docker.getContainer(containerId);
      const t1 = performance.now();
      await container.start({ abortSignal: signal });
      mark('start', t1);
      const t2 = performance.now();
      // sshd readiness and credentials are independent: do both at once.
      const [, , info] = await Promise.all([
        this.wait.waitUntilReady({ host: this.probeAddress(), port }, signal).then(() => mark('sshd', t2)),
        this.provision(containerId, spec, signal).then(() => mark('provision', t2)),
        container.inspect({ abortSignal: signal }),
      ]);
      signal?.throwIfAborted();
      this.logger.debug(`sandbox ${containerId.slice(0, 12)} on port ${port} ready in ${Math.round(performance.now() - t0)} ms (${phases.join(', ')})`);
      return {
        id: containerId,
        uuid: spec.uuid,
        port,
        imageSha256: info.Image.replace(/^sha256:/, ''),
        labels: info.Config.Labels ?? {},
        ipAddress: info.NetworkSettings.Networks[this.networkName]?.IPAddress || undefined,
      };
    } catch (error) {
      if (containerId !== undefined) await this.destroy(containerId).catch((e) => this.logger.warn(`cleanup of ${containerId!.slice(0, 12)} failed: ${describe(e)}`));
      else this.ports.release(port);
      if (error instanceof BackendUnavailableError) throw error;
      if (isConnectionError(error)) {
        this.onConnectionLost(error);
        throw new BackendUnavailableError('virtualization backend unreachable');
      }
      throw error;
    }
  }

  async destroy(id: string): Promise<void> {
    this.rememberDestroy(id);
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (error) {
      const code = statusCode(error);
      // 404: already gone; 409: removal already in progress. Both mean "it is going away".
      if (code !== 404 && code !== 409) {
        this.destroyedByUs.delete(id);
        if (isConnectionError(error)) {
          this.onConnectionLost(error);
          throw new BackendUnavailableError('virtualization backend unreachable');
        }
        throw error;
      }
    }
    this.forget(id);
  }

  async list(): Promise<Sandbox[]> {
    const containers = await this.docker.listContainers({
      all: false,
      filters: JSON.stringify({ label: [`${SERVER_LABEL}=${this.options.serverId}`], status: ['running'] }),
    });
    return containers.map((c) => ({
      id: c.Id,
      uuid: c.Labels[UUID_LABEL] ?? '',
      port: Number(c.Labels[PORT_LABEL] ?? c.Ports.find((p) => p.PrivatePort === 22)?.PublicPort ?? 0),
      imageSha256: c.ImageID.replace(/^sha256:/, ''),
      labels: c.Labels,
      ipAddress: c.NetworkSettings?.Networks?.[this.networkName]?.IPAddress || undefined,
    }));
  }

  async exec(
    id: string,
    cmd: string[],
    options: { user?: string; env?: Record<string, string>; detach?: boolean; timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    return this.run(id, cmd, options);
  }

  async putFiles(id: string, directory: string, files: SandboxFile[]): Promise<void> {
    if (!directory.startsWith('/')) throw new RangeError('directory must be absolute');
    for (const file of files) {
      if (file.name === '' || file.name.startsWith('/') || file.name.split('/').includes('..')) {
        throw new RangeError(`invalid file name ${JSON.stringify(file.name)}`);
      }
    }
    const mkdir = await this.run(id, ['mkdir', '-p', '--', directory], { timeoutMs: 10_000 });
    if (mkdir.exitCode !== 0) throw new Error(`cannot create ${directory} in the sandbox: ${mkdir.stderr.trim()}`);
    const archive = pack();
    for (const file of files) {
      archive.entry({ name: file.name, mode: file.mode ?? 0o644, uid: file.uid ?? 0, gid: file.gid ?? 0, mtime: new Date() }, file.content);
    }
    archive.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of archive as AsyncIterable<Buffer>) chunks.push(chunk);
    await this.docker.getContainer(id).putArchive(Buffer.concat(chunks), { path: directory });
  }

  // ── creation ─────────────────────────────────────────────────────────────

  private probeAddress(): string {
    if (this.publishedAddress === '0.0.0.0') return '127.0.0.1';
    if (this.publishedAddress === '::') return '::1';
    return this.publishedAddress;
  }

  private async createContainer(spec: SandboxSpec, firstPort: number, signal?: AbortSignal): Promise<string> {
    const labels: Record<string, string> = {
      ...(spec.labels ?? {}),
      [SERVER_LABEL]: this.options.serverId,
      [UUID_LABEL]: spec.uuid,
      [PORT_LABEL]: String(firstPort),
    };
    const container = await this.docker.createContainer(
      {
        Image: this.image,
        name: `anweddol-${spec.uuid}`,
        Hostname: 'sandbox',
        Labels: labels,
        ExposedPorts: { '22/tcp': {} },
        HostConfig: {
          Memory: this.memoryMiB * 1024 * 1024,
          MemorySwap: this.memoryMiB * 1024 * 1024,
          NanoCpus: Math.round(this.vcpus * 1e9),
          PidsLimit: this.pidsLimit,
          NetworkMode: this.networkName,
          PortBindings: { '22/tcp': [{ HostIp: this.publishedAddress, HostPort: String(firstPort) }] },
          RestartPolicy: { Name: 'no' },
          ...(this.clientSudo ? {} : { SecurityOpt: ['no-new-privileges'], CapDrop: ['ALL'], CapAdd: SANDBOX_CAPABILITIES }),
        },
        abortSignal: signal,
      } as Docker.ContainerCreateOptions,
    );
    return container.id;
  }

  /** Creates the client login from the spec; the password travels on stdin only. */
  private async provision(id: string, spec: SandboxSpec, signal?: AbortSignal): Promise<void> {
    const args = [SETUP_ENDPOINT, spec.username, ...(this.clientSudo ? ['--sudo'] : [])];
    const result = await this.run(id, args, { stdin: `${spec.password}\n`, timeoutMs: 30_000, signal });
    if (result.exitCode !== 0) {
      throw new Error(`endpoint setup failed (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 500)}`);
    }
  }

  private async run(
    id: string,
    cmd: string[],
    options: { user?: string; env?: Record<string, string>; detach?: boolean; timeoutMs?: number; stdin?: string; signal?: AbortSignal },
  ): Promise<ExecResult> {
    if (cmd.length === 0) throw new RangeError('empty command');
    const container = this.docker.getContainer(id);
    const attach = options.detach !== true;
    const exec = await container.exec({
      Cmd: cmd,
      User: options.user ?? 'root',
      Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
      AttachStdin: options.stdin !== undefined,
      AttachStdout: attach,
      AttachStderr: attach,
      Tty: false,
    });
    if (!attach) {
      // Docker has started the process once this answers; dockerode still hands back the response stream,
      // which would hold an HTTP connection (and the event loop) open for minutes: release it.
      const response = (await exec.start({ Detach: true })) as unknown as { destroy?: () => void } | undefined;
      response?.destroy?.();
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 60_000);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
    const stream = (await exec.start({ hijack: true, stdin: options.stdin !== undefined })) as unknown as Duplex;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out = collect(stdout);
    const err = collect(stderr);
    this.docker.modem.demuxStream(stream, stdout, stderr);
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        stream.destroy();
        reject(new Error(`command timed out or was aborted: ${cmd[0]}`));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      stream.once('end', done);
      stream.once('close', done);
      stream.once('error', (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      });
      if (options.stdin !== undefined) stream.end(options.stdin);
    });
    // The exit code is set a moment after the output stream closes.
    for (let i = 0; i < 50; i++) {
      const info = await exec.inspect();
      if (!info.Running && info.ExitCode !== null) return { exitCode: info.ExitCode, stdout: out(), stderr: err() };
      await sleep(20);
    }
    throw new Error(`no exit code for ${cmd[0]}`);
  }

  // ── network ──────────────────────────────────────────────────────────────

  /** Our user-defined bridge: inter-sandbox traffic disabled, not --internal (then -p publishes nothing). */
  private async ensureNetwork(): Promise<void> {
    const existing = await this.docker.getNetwork(this.networkName).inspect().catch((error: unknown) => {
      if (statusCode(error) === 404) return undefined;
      throw error;
    });
    let info = existing;
    if (info === undefined) {
      try {
        await this.docker.createNetwork({
          Name: this.networkName,
          Driver: 'bridge',
          CheckDuplicate: true,
          Internal: false,
          Options: { 'com.docker.network.bridge.enable_icc': 'false' },
          Labels: { 'anweddol.network': 'sandboxes' },
        });
      } catch (error) {
        // Another server created it at the same moment.
        if (statusCode(error) !== 409) throw error;
      }
      info = await this.docker.getNetwork(this.networkName).inspect();
    }
    if (info.Options?.['com.docker.network.bridge.enable_icc'] !== 'false') {
      throw new Error(`network ${this.networkName} exists without com.docker.network.bridge.enable_icc=false; remove it or pick another name`);
    }
    this.gateway = info.IPAM?.Config?.[0]?.Gateway;
  }

  // ── connection, events, reconnection ─────────────────────────────────────

  /** Reaches dockerd, prepares the network, forgets dead sandboxes, takes stock of live ones, watches events. */
  private async connect(): Promise<void> {
    // Bounded: a hung dockerd must not stall start() or the reconnection loop.
    const ping = this.docker.ping as unknown as (options: { abortSignal: AbortSignal }) => Promise<unknown>;
    await ping.call(this.docker, { abortSignal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(10_000)]) });
    await this.ensureNetwork();
    await this.removeEndedSandboxes();
    const live = await this.list();
    // Sandboxes that vanished while we were not watching give their ports back.
    const liveIds = new Set(live.map((sandbox) => sandbox.id));
    for (const [id, port] of this.sandboxPorts) if (!liveIds.has(id)) this.ports.release(port);
    this.sandboxPorts.clear();
    for (const sandbox of live) {
      this.sandboxPorts.set(sandbox.id, sandbox.port);
      this.ports.hold(sandbox.port);
    }
    await this.watchEvents();
  }

  /** Containers of ours that are not running are ended sandboxes (they died while we were not watching). */
  private async removeEndedSandboxes(): Promise<void> {
    const all = await this.docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${SERVER_LABEL}=${this.options.serverId}`] }),
    });
    for (const c of all) {
      if (c.State === 'running') continue;
      this.logger.info(`removing ended sandbox ${c.Id.slice(0, 12)} (${c.State})`);
      await this.destroy(c.Id).catch((error) => this.logger.warn(`cannot remove ${c.Id.slice(0, 12)}: ${describe(error)}`));
      const port = Number(c.Labels[PORT_LABEL]);
      if (Number.isInteger(port)) this.ports.release(port);
    }
  }

  private async watchEvents(): Promise<void> {
    const filters = {
      type: ['container'],
      label: [`${SERVER_LABEL}=${this.options.serverId}`],
      event: ['die', 'stop', 'destroy', 'oom'],
    };
    const since = this.lastEventTimeNano === undefined ? undefined : (Number(this.lastEventTimeNano / 1_000_000_000n)).toString();
    const stream = (await this.docker.getEvents({
      filters: JSON.stringify(filters),
      ...(since === undefined ? {} : { since }),
      abortSignal: this.closing.signal,
    } as Docker.GetEventsOptions)) as unknown as Readable;
    this.events = stream;
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line !== '') this.onEventLine(line);
      }
    });
    const lost = (error?: unknown) => {
      if (this.events !== stream) return;
      this.events = undefined;
      this.onConnectionLost(error ?? new Error('docker events stream ended'));
    };
    stream.once('error', lost);
    stream.once('end', () => lost());
    stream.once('close', () => lost());
  }

  private onEventLine(line: string): void {
    let event: DockerEvent;
    try {
      event = JSON.parse(line) as DockerEvent;
    } catch {
      this.logger.warn('unparsable docker event ignored');
      return;
    }
    if (event.timeNano !== undefined) {
      const time = BigInt(event.timeNano);
      // After a reconnection the stream replays from `since` (whole seconds): skip what we already saw.
      if (this.lastEventTimeNano !== undefined && time <= this.lastEventTimeNano) return;
      this.lastEventTimeNano = time;
    }
    const id = event.Actor?.ID ?? event.id;
    const action = event.Action ?? event.status;
    if (id === undefined || action === undefined) return;
    if (event.Actor?.Attributes?.[SERVER_LABEL] !== this.options.serverId) return;
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
    const uuid = event.Actor?.Attributes?.[UUID_LABEL];
    this.logger.info(`sandbox ${id.slice(0, 12)} ended (${reason})`);
    this.emit('sandbox_ended', { id, ...(uuid === undefined ? {} : { uuid }), reason });
    // An ended sandbox is never restarted: remove it and free its port.
    void this.destroy(id)
      .catch((error) => this.logger.warn(`cannot remove ended sandbox ${id.slice(0, 12)}: ${describe(error)}`))
      .finally(() => this.reportedEnded.delete(id));
  }

  private onConnectionLost(error: unknown): void {
    if (this.state === 'closed' || this.state === 'unavailable') return;
    this.logger.warn(`docker backend lost: ${describe(error)}`);
    this.events?.destroy();
    this.events = undefined;
    this.setAvailable(false);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnecting !== undefined || this.state === 'closed') return;
    this.reconnecting = (async () => {
      let delay = 250;
      while (this.state !== 'closed') {
        await sleep(delay, this.closing.signal);
        if ((this.state as State) === 'closed') break;
        try {
          await this.connect();
          if ((this.state as State) === 'closed') {
            this.events?.destroy();
            break;
          }
          this.logger.info('docker backend reachable again');
          this.setAvailable(true);
          break;
        } catch (error) {
          this.logger.debug(`docker reconnect failed: ${describe(error)}`);
          delay = Math.min(delay * 2, this.maxReconnectDelayMs);
        }
      }
    })().finally(() => {
      this.reconnecting = undefined;
    });
  }

  private setAvailable(available: boolean): void {
    if (this.state === 'closed') return;
    const was = this.state === 'available';
    this.state = available ? 'available' : 'unavailable';
    if (was !== available) this.emit('availability_changed', available);
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
    if (port !== undefined) this.ports.release(port);
    this.sandboxPorts.delete(id);
  }
}
