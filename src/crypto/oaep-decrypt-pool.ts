// Runs RSA-OAEP private decryptions on a few worker threads so RSA-4096 work never stalls the event loop.
import { Worker } from 'node:worker_threads';
import type { RsaKeyPair } from './rsa-key-pair.js';

export interface OaepDecryptor {
  decrypt(ciphertext: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

/** Decrypts on the calling thread: for tests and tiny deployments. */
export class InlineOaepDecryptor implements OaepDecryptor {
  constructor(private readonly keyPair: RsaKeyPair) {}
  async decrypt(ciphertext: Buffer): Promise<Buffer> {
    return this.keyPair.decrypt(ciphertext);
  }
  async close(): Promise<void> {}
}

// Plain JS evaluated in the worker, so it runs the same under tsx and from dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const key = crypto.createPrivateKey(workerData.privateKeyPem);
// On Linux this lowers only this thread's priority: socket I/O on the main thread goes first.
try { require('node:os').setPriority(workerData.niceness); } catch {}
parentPort.on('message', (task) => {
  try {
    const plain = crypto.privateDecrypt(
      { key, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(task.ciphertext.buffer, task.ciphertext.byteOffset, task.ciphertext.byteLength),
    );
    parentPort.postMessage({ id: task.id, ok: true, plain });
  } catch {
    parentPort.postMessage({ id: task.id, ok: false });
  }
});
`;

interface Task {
  id: number;
  ciphertext: Buffer;
  resolve: (plain: Buffer) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  task: Task | undefined;
}

interface WorkerReply {
  id: number;
  ok: boolean;
  plain?: Uint8Array;
}

export class OaepDecryptError extends Error {
  constructor(message = 'OAEP decryption failed') {
    super(message);
    this.name = 'OaepDecryptError';
  }
}

export class OaepDecryptPool implements OaepDecryptor {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;
  private readonly privateKeyPem: string;

  /** `niceness` (0–19): scheduling niceness of the worker threads (Linux: per thread), so the event loop wins CPU contention. */
  constructor(
    keyPair: RsaKeyPair,
    readonly size: number,
    private readonly niceness = 0,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('pool size must be a positive integer');
    this.privateKeyPem = keyPair.privateKeyPem();
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  decrypt(ciphertext: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(new OaepDecryptError('decrypt pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, ciphertext, resolve, reject });
      this.pump();
    });
  }

  get pending(): number {
    return this.queue.length + this.slots.filter((s) => s.task !== undefined).length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new OaepDecryptError('decrypt pool is closed'));
    await Promise.all(
      this.slots.map(async (slot) => {
        slot.task?.reject(new OaepDecryptError('decrypt pool is closed'));
        slot.task = undefined;
        await slot.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    // No inherited execArgv (e.g. a TypeScript loader): the worker is plain JS and should stay small.
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { privateKeyPem: this.privateKeyPem, niceness: this.niceness },
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    const slot: Slot = { worker, task: undefined };
    worker.on('message', (reply: WorkerReply) => {
      const task = slot.task;
      if (task === undefined || task.id !== reply.id) return;
      slot.task = undefined;
      worker.unref();
      if (reply.ok && reply.plain !== undefined) task.resolve(Buffer.from(reply.plain.buffer, reply.plain.byteOffset, reply.plain.byteLength));
      else task.reject(new OaepDecryptError());
      this.pump();
    });
    // A worker that dies fails its task and is replaced, so the pool keeps its size.
    const replace = () => {
      if (this.closed) return;
      const index = this.slots.indexOf(slot);
      if (index === -1) return;
      slot.task?.reject(new OaepDecryptError('decrypt worker exited'));
      slot.task = undefined;
      this.slots[index] = this.spawn();
      this.pump();
    };
    worker.on('error', replace);
    worker.on('exit', replace);
    worker.unref();
    return slot;
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.task !== undefined) continue;
      const task = this.queue.shift()!;
      slot.task = task;
      // Busy workers keep the process alive until they answer; idle ones never do.
      slot.worker.ref();
      slot.worker.postMessage({ id: task.id, ciphertext: task.ciphertext });
    }
  }
}
