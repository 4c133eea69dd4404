// The built-in verbs STAT, CREATE, DESTROY and RENEW as request handlers over the sandbox manager.
import type { RequestHandler } from '../request-dispatcher.js';
import type { SandboxManager } from '../sandbox-manager.js';

export interface BuiltInVerbDeps {
  version: string;
  /** Seconds since the server started. */
  uptime(): number;
  sandboxes: SandboxManager;
}

export function builtInVerbs(deps: BuiltInVerbDeps): Record<'STAT' | 'CREATE' | 'DESTROY' | 'RENEW', RequestHandler> {
  return {
    STAT: () => ({
      success: true,
      message: 'OK',
      data: { version: deps.version, uptime: deps.uptime(), available: deps.sandboxes.available() },
    }),
    CREATE: async (_request, ctx) => ({
      success: true,
      message: 'OK',
      data: { ...(await deps.sandboxes.create(ctx.client)) },
    }),
    DESTROY: async (request, ctx) => {
      const { uuid, token } = credentials(request.parameters);
      await deps.sandboxes.destroy(uuid, token, ctx.client);
      return { success: true, message: 'OK', data: {} };
    },
    RENEW: (request, ctx) => {
      const { uuid, token } = credentials(request.parameters);
      return { success: true, message: 'OK', data: { expires_at: deps.sandboxes.renew(uuid, token, ctx.client) } };
    },
  };
}

// Validation guarantees both strings are present and well-formed for DESTROY and RENEW.
function credentials(parameters: Record<string, unknown>): { uuid: string; token: string } {
  const { container_uuid: uuid, client_token: token } = parameters as { container_uuid: string; client_token: string };
  return { uuid, token };
}
