// The metrics listener: `GET /metrics` in the Prometheus text format on its own address, plus the routes an extension adds (the dashboard).
import Fastify, { type FastifyInstance } from 'fastify';
import { isIP, type AddressInfo } from 'node:net';

export interface MetricsSource {
  scrape(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsListenerOptions {
  source: MetricsSource;
  bindAddress: string;
  /** 0 = ephemeral (tests). */
  port: number;
  /** More routes on the same listener (the dashboard under /dashboard/). */
  routes?: (app: FastifyInstance) => void;
  /** Largest request body (the dashboard's JSON forms); GET /metrics needs none. */
  bodyLimit?: number;
}

export class MetricsListener {
  private readonly app: FastifyInstance;
  private listening = false;

  constructor(private readonly options: MetricsListenerOptions) {
    // No request has a body; a scrape is small and quick, a slow sender is cut off.
    this.app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? 1024, requestTimeout: 10_000 });
    this.app.get('/metrics', async (_req, reply) => {
      const { contentType, body } = await options.source.scrape();
      return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
    });
    options.routes?.(this.app);
    this.app.setNotFoundHandler((_req, reply) => reply.code(404).type('text/plain').send('Not found: the metrics are at /metrics\n'));
  }

  async start(): Promise<void> {
    const { bindAddress, port } = this.options;
    try {
      await this.app.listen({ host: bindAddress, port });
    } catch (error) {
      // Fastify holds the half-opened instance: release it, then say which listener could not start.
      await this.app.close();
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new Error(`metrics listener cannot listen on ${bindAddress}:${port} (${code}); change metrics.listen_port or set metrics.enabled: false`, { cause: error });
    }
    this.listening = true;
  }

  async stop(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    await this.app.close();
  }

  address(): { address: string; port: number } {
    const info = this.app.server.address() as AddressInfo | null;
    if (info === null) throw new Error('metrics listener is not listening');
    return { address: info.address, port: info.port };
  }

  url(path = '/metrics'): string {
    const { address, port } = this.address();
    return `http://${isIP(address) === 6 ? `[${address}]` : address}:${port}${path}`;
  }
}
