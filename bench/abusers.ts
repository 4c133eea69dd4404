// The abusers of bench/abuse.ts (malformed sessions, idle connections held open, a CREATE flood); each counts what the server did to it.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { AnweddolHttpClient } from '../src/client/http-client.js';
import { AnweddolTcpClient, type ClientKeyPair } from '../src/client/tcp-client.js';
import { encodeLengthPrefix } from '../src/server/protocol/length-prefix.js';
import type { AnweddolResponse } from '../src/server/types.js';
import { PeerClosed, RawPeer } from '../test/helpers/raw-peer.js';

/** Counts per outcome, printed largest first. */
export class Outcomes {
  private readonly counts = new Map<string, number>();

  add(outcome: string): void {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }

  get total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }

  lines(indent = '    '): string[] {
    return [...this.counts].sort((a, b) => b[1] - a[1]).map(([outcome, n]) => `${indent}${String(n).padStart(5)}  ${outcome}`);
  }
}

/** Runs `work` over `items` with at most `concurrency` at once. */
export async function runPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

function errorOutcome(error: unknown): string {
  if (error instanceof PeerClosed) return 'closed by the server mid key exchange';
  const code = (error as NodeJS.ErrnoException).code;
  return `error: ${code ?? (error as Error).message}`;
}

export interface Endpoints {
  tcpPort: number;
  httpPort: number;
}

const ANSWER_TIMEOUT_MS = 15_000;

/** What the server sent until it closed the socket, or that it did not close in time (we then close it). */
async function serverAnswer(peer: RawPeer): Promise<string> {
  const started = Date.now();
  const text = await peer.readToClose(ANSWER_TIMEOUT_MS);
  if (Date.now() - started >= ANSWER_TIMEOUT_MS) return `still open after ${ANSWER_TIMEOUT_MS / 1000} s`;
  return text === '' ? 'closed, nothing sent' : `closed after ${JSON.stringify(text.slice(0, 8))}`;
}

export const MALFORMED_KINDS = ['garbage bytes', 'oversized length prefix', 'truncated key exchange', 'bad AES frame', 'malformed JSON over REST'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/** One malformed session of `kind` from `localAddress`; returns what the server did. */
export async function malformedSession(kind: MalformedKind, at: Endpoints, localAddress: string, key: ClientKeyPair): Promise<string> {
  if (kind === 'malformed JSON over REST') {
    const http = new AnweddolHttpClient({ baseUrl: `http://127.0.0.1:${at.httpPort}`, localAddress, timeoutMs: ANSWER_TIMEOUT_MS });
    try {
      const exchange = await http.send('POST', '/create', '{"container_uuid": "');
      return `HTTP ${exchange.status} ${(exchange.body as AnweddolResponse | undefined)?.message ?? exchange.text.slice(0, 40)}`;
    } catch (error) {
      return errorOutcome(error);
    }
  }
  let peer: RawPeer | undefined;
  try {
    peer = await RawPeer.connect(at.tcpPort, '127.0.0.1', localAddress);
    if (kind === 'garbage bytes') {
      peer.write(randomBytes(32));
    } else if (kind === 'oversized length prefix') {
      peer.write('99999999');
    } else if (kind === 'truncated key exchange') {
      const pem = Buffer.from(key.publicKeyPem);
      peer.write(encodeLengthPrefix(pem.length));
      const ack = (await peer.read(1, ANSWER_TIMEOUT_MS)).toString();
      if (ack !== '1') return `key length refused with ${JSON.stringify(ack)}`;
      peer.write(pem.subarray(0, pem.length >> 1));
      peer.socket.end();
    } else {
      await peer.handshake(key);
      peer.write(randomBytes(16));
    }
    return await serverAnswer(peer);
  } catch (error) {
    return errorOutcome(error);
  } finally {
    peer?.destroy();
  }
}

export interface IdleHolder {
  stop(): Promise<Outcomes>;
}

type IdleTransport = 'TCP' | 'REST, silent' | 'REST, request line';

// A socket the server closes within this long after connect was refused at accept, not timed out. A connected socket
// may also wait in the listen backlog while the daemon is busy: what the daemon holds is measured on its side (ss).
const AT_ACCEPT_MS = 1000;

/**
 * Keeps `perTransport` connections to each listener open from `localAddress`, reopening each one `reopenDelayMs` after the
 * server closes it. TCP peers send nothing; REST peers are half silent, half send a request line and no more (a request
 * never finished).
 */
export function holdIdleConnections(at: Endpoints, localAddress: string, perTransport: number, reopenDelayMs: number): IdleHolder {
  const outcomes = new Outcomes();
  let stopped = false;
  // What stop() must interrupt: the open sockets and the reopen delays.
  const interruptions = new Set<() => void>();

  const once = (port: number, transport: IdleTransport) =>
    new Promise<void>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress });
      let connectedAt: number | undefined;
      const interrupt = () => socket.destroy();
      interruptions.add(interrupt);
      socket.on('error', () => {});
      socket.once('connect', () => {
        connectedAt = Date.now();
        if (transport === 'REST, request line') socket.write('POST /stat HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      });
      socket.once('close', () => {
        interruptions.delete(interrupt);
        if (stopped) {
          if (connectedAt !== undefined) outcomes.add(`${transport}: open at the end by our count (closed by us)`);
        } else if (connectedAt === undefined) {
          outcomes.add(`${transport}: connect failed`);
        } else {
          const lived = Date.now() - connectedAt;
          outcomes.add(lived < AT_ACCEPT_MS ? `${transport}: closed within 1 s (at accept)` : `${transport}: closed by the server after ~${Math.round(lived / 1000)} s`);
        }
        resolve();
      });
    });

  const slot = async (port: number, transport: IdleTransport) => {
    while (!stopped) {
      await once(port, transport);
      if (stopped) return;
      await new Promise<void>((resolve) => {
        const interrupt = () => {
          clearTimeout(timer);
          interruptions.delete(interrupt);
          resolve();
        };
        const timer = setTimeout(interrupt, reopenDelayMs);
        interruptions.add(interrupt);
      });
    }
  };
  const slots = Promise.all([
    ...Array.from({ length: perTransport }, () => slot(at.tcpPort, 'TCP')),
    ...Array.from({ length: perTransport }, (_, i) => slot(at.httpPort, i % 2 === 0 ? 'REST, silent' : 'REST, request line')),
  ]);
  return {
    async stop() {
      stopped = true;
      for (const interrupt of [...interruptions]) interrupt();
      await slots;
      return outcomes;
    },
  };
}

export interface CreatedSandbox {
  container_uuid: string;
  client_token: string;
}

/**
 * `attempts` CREATE requests from `localAddress`, half over TCP and half over REST, `concurrency` at once. Every sandbox
 * obtained is pushed onto `created` as soon as it is answered, so the caller can destroy it whatever happens next.
 */
export async function floodCreates(at: Endpoints, localAddress: string, attempts: number, concurrency: number, key: ClientKeyPair, created: CreatedSandbox[]): Promise<Outcomes> {
  const outcomes = new Outcomes();
  const tcp = new AnweddolTcpClient({ host: '127.0.0.1', port: at.tcpPort, keyPair: key, localAddress, timeoutMs: 60_000 });
  const http = new AnweddolHttpClient({ baseUrl: `http://127.0.0.1:${at.httpPort}`, localAddress, timeoutMs: 60_000 });
  const transports = Array.from({ length: attempts }, (_, i) => (i % 2 === 0 ? 'TCP' : 'REST'));
  await runPool(transports, concurrency, async (transport) => {
    try {
      const response = await (transport === 'TCP' ? tcp.create() : http.create());
      if (response.message === 'OK') created.push(response.data as unknown as CreatedSandbox);
      outcomes.add(`${transport}: ${response.message}`);
    } catch (error) {
      outcomes.add(`${transport}: ${errorOutcome(error)}`);
    }
  });
  return outcomes;
}
