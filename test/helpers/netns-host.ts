// A stand-in remote host for network tests: a network namespace joined to this host by a veth pair, with TCP banner servers inside.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';

export interface NetnsHost {
  /** The namespace's address (its end of the veth). */
  address: string;
  /** Starts a server on 0.0.0.0:port inside the namespace that sends `banner` and a newline to every connection. */
  listen(port: number, banner: string): Promise<void>;
  /** Stops its servers and deletes the namespace and the veth pair; safe to call twice. */
  close(): void;
}

// Prints "ready" once listening, so the caller knows connections will be answered.
const BANNER_SERVER = `
const [port, banner] = process.argv.slice(1);
require('node:net').createServer((s) => s.end(banner + '\\n')).listen(Number(port), '0.0.0.0', () => console.log('ready'));
`;

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * `address`/`prefix` inside the namespace, `hostAddress`/`prefix` on this host's end; the namespace routes everything
 * back through this host, so sandboxes behind it can be answered.
 */
export function createNetnsHost(options: { hostAddress: string; address: string; prefix: number }): NetnsHost {
  const id = randomBytes(3).toString('hex');
  const ns = `anw-egress-${id}`;
  const hostSide = `aeg${id}h`;
  const nsSide = `aeg${id}n`;
  const servers: ChildProcess[] = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const child of servers) child.kill('SIGKILL');
    // Deleting the namespace deletes its veth end, which deletes the pair; the explicit delete covers a half-built setup.
    for (const args of [['netns', 'del', ns], ['link', 'del', hostSide]]) {
      try {
        ip(args);
      } catch {
        // already gone
      }
    }
  };
  try {
    ip(['netns', 'add', ns]);
    ip(['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide]);
    ip(['link', 'set', nsSide, 'netns', ns]);
    ip(['addr', 'add', `${options.hostAddress}/${options.prefix}`, 'dev', hostSide]);
    ip(['link', 'set', hostSide, 'up']);
    ip(['-n', ns, 'addr', 'add', `${options.address}/${options.prefix}`, 'dev', nsSide]);
    ip(['-n', ns, 'link', 'set', nsSide, 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', ns, 'route', 'add', 'default', 'via', options.hostAddress]);
  } catch (error) {
    close();
    throw error;
  }
  return {
    address: options.address,
    close,
    listen: (port, banner) =>
      new Promise((resolve, reject) => {
        const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', BANNER_SERVER, String(port), banner], { stdio: ['ignore', 'pipe', 'pipe'] });
        servers.push(child);
        let stderr = '';
        child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.stdout!.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`banner server in ${ns} exited (${code}): ${stderr.trim()}`)));
      }),
  };
}

/** A banner server on this host's 0.0.0.0 (a "host service"), on an ephemeral port. */
export function hostService(banner: string): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const server: Server = createServer((socket) => socket.end(`${banner}\n`));
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => {
      const { port } = server.address() as { port: number };
      resolve({ port, close: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}
