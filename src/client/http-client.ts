// A small Anweddol REST client (docs/protocol.md §3) for tests, benchmarks and the CLI; TLS verification can be turned off.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AnweddolResponse } from '../server/types.js';
import { AnweddolVerbClient } from './verb-client.js';

export interface AnweddolHttpClientOptions {
  /** e.g. `http://127.0.0.1:8080` or `https://[::1]:4443`. */
  baseUrl: string;
  /** Verify the server certificate (default true; self-signed servers need false or `ca`). */
  rejectUnauthorized?: boolean;
  ca?: string | Buffer;
  timeoutMs?: number;
  /** Local address to connect from (e.g. 127.0.0.2 to be another loopback client). */
  localAddress?: string;
}

export interface HttpExchange {
  status: number;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or undefined when the body was not JSON. */
  body: unknown;
  text: string;
}

export class AnweddolHttpClient extends AnweddolVerbClient {
  constructor(private readonly options: AnweddolHttpClientOptions) {
    super();
  }

  /** `POST /<verb>` with the parameters as body; rejects on a status other than 200 or a non-JSON body. */
  async request(verb: string, parameters: Record<string, unknown> = {}): Promise<AnweddolResponse> {
    const exchange = await this.send('POST', `/${verb.toLowerCase()}`, JSON.stringify(parameters));
    if (exchange.status !== 200 || typeof exchange.body !== 'object' || exchange.body === null) {
      throw new Error(`HTTP ${exchange.status}: ${exchange.text.slice(0, 200)}`);
    }
    return exchange.body as AnweddolResponse;
  }

  /** Raw access for tests: any method, path and body. */
  send(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<HttpExchange> {
    const url = new URL(path, this.options.baseUrl);
    const secure = url.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    const payload = body === undefined ? undefined : Buffer.from(body);
    return new Promise<HttpExchange>((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          headers: {
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(payload.length) }),
            ...headers,
          },
          timeout: this.options.timeoutMs ?? 10_000,
          localAddress: this.options.localAddress,
          ...(secure ? { rejectUnauthorized: this.options.rejectUnauthorized ?? true, ca: this.options.ca } : {}),
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`HTTP request timed out after ${this.options.timeoutMs ?? 10_000} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
