// Commands and files into a running container: exec with bounded output and a deadline, tar uploads.
import type Docker from 'dockerode';
import { PassThrough, type Duplex } from 'node:stream';
import { pack } from 'tar-stream';
import type { ExecResult, SandboxFile } from '../virtualization-interface.js';
import { sleep } from './docker-engine.js';

const MAX_EXEC_OUTPUT = 8 * 1024 * 1024;

export interface RunOptions {
  user?: string;
  env?: Record<string, string>;
  detach?: boolean;
  timeoutMs?: number;
  /** Written to the command's stdin, then closed (how secrets reach a command: never in argv or env). */
  stdin?: string;
  signal?: AbortSignal;
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

export async function runInContainer(docker: Docker, id: string, cmd: string[], options: RunOptions): Promise<ExecResult> {
  if (cmd.length === 0) throw new RangeError('empty command');
  const container = docker.getContainer(id);
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
  docker.modem.demuxStream(stream, stdout, stderr);
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

export async function putFilesInContainer(docker: Docker, id: string, directory: string, files: SandboxFile[]): Promise<void> {
  if (!directory.startsWith('/')) throw new RangeError('directory must be absolute');
  for (const file of files) {
    if (file.name === '' || file.name.startsWith('/') || file.name.split('/').includes('..')) {
      throw new RangeError(`invalid file name ${JSON.stringify(file.name)}`);
    }
  }
  const mkdir = await runInContainer(docker, id, ['mkdir', '-p', '--', directory], { timeoutMs: 10_000 });
  if (mkdir.exitCode !== 0) throw new Error(`cannot create ${directory} in the sandbox: ${mkdir.stderr.trim()}`);
  const archive = pack();
  for (const file of files) {
    archive.entry({ name: file.name, mode: file.mode ?? 0o644, uid: file.uid ?? 0, gid: file.gid ?? 0, mtime: new Date() }, file.content);
  }
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive as AsyncIterable<Buffer>) chunks.push(chunk);
  await docker.getContainer(id).putArchive(Buffer.concat(chunks), { path: directory });
}
