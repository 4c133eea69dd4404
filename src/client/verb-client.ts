// The built-in verbs (STAT, CREATE, DESTROY, RENEW) written once over each transport's own `request()`.
import type { AnweddolResponse } from '../server/types.js';

export abstract class AnweddolVerbClient {
  /** Sends `{verb, parameters}` over the transport and resolves with the server's answer. */
  abstract request(verb: string, parameters?: Record<string, unknown>): Promise<AnweddolResponse>;

  stat(parameters: Record<string, unknown> = {}): Promise<AnweddolResponse> {
    return this.request('STAT', parameters);
  }

  create(parameters: Record<string, unknown> = {}): Promise<AnweddolResponse> {
    return this.request('CREATE', parameters);
  }

  destroy(containerUuid: string, clientToken: string, parameters: Record<string, unknown> = {}): Promise<AnweddolResponse> {
    return this.request('DESTROY', { ...parameters, container_uuid: containerUuid, client_token: clientToken });
  }

  /** Extends the sandbox's lifetime; `data.expires_at` is the new deadline (Unix seconds). */
  renew(containerUuid: string, clientToken: string, parameters: Record<string, unknown> = {}): Promise<AnweddolResponse> {
    return this.request('RENEW', { ...parameters, container_uuid: containerUuid, client_token: clientToken });
  }
}
