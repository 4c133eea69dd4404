// A stand-in dockerd on a unix socket for unit tests: answers the Engine API calls the backend makes while connecting, or hangs up on every connection; counts connections.
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';

export interface FakeDockerEngineOptions {
  /** `answer`: serve the calls below; `hang-up`: close every connection at once (dockerd dying). */
  mode: 'answer' | 'hang-up';
  /** What `GET /info` reports. */
  info?: { Driver: string; DriverStatus: Array<[string, string]> };
}

export class FakeDockerEngine {
  /** Connections accepted so far: each connection attempt of the backend. */
  connections = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: FakeDockerEngineOptions) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '').replace(/^\/v1\.\d+/, '').split('?')[0];
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === '/_ping') return void res.end('OK');
      if (path === '/info') return json(200, this.options.info ?? { Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs']] });
      const network = /^\/networks\/([^/]+)$/.exec(path ?? '');
      if (network !== null) {
        return json(200, {
          Name: decodeURIComponent(network[1]!),
          Id: 'f'.repeat(64),
          Driver: 'bridge',
          Options: { 'com.docker.network.bridge.enable_icc': 'false' },
          IPAM: { Config: [{ Subnet: '10.99.0.0/24', Gateway: '10.99.0.1' }] },
        });
      }
      json(404, { message: `fake engine: no ${req.method} ${path}` });
    });
    this.server.on('connection', (socket: Socket) => {
      this.connections++;
      if (this.options.mode === 'hang-up') return void socket.destroy();
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  listen(socketPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(socketPath, () => resolve());
    });
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
