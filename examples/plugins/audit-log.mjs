// Example plugin: appends one JSON line per sandbox created or destroyed (with the reason) to an audit file.
// Self-contained on purpose: a plugin gets everything through `api` and imports nothing from anweddol-server.
import { createWriteStream, readFileSync } from 'node:fs';

export const name = 'audit-log';

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['file'],
  properties: {
    file: { type: 'string', pattern: '^/', description: 'absolute path of the audit file (appended to, created 0640)' },
  },
};

// Only identifiers that are not credentials: never container_uuid, client_token or the SSH password.
const containerId = (ctx) => ctx.container_id.slice(0, 12);
const client = (ctx) => (ctx.client ? { id: ctx.client.id, transport: ctx.client.transport } : null);

export function register(api) {
  const file = api.config.file;
  const out = createWriteStream(file, { flags: 'a', mode: 0o640 });
  out.on('error', (error) => api.logger.error(`cannot write ${file}: ${error.message}`));
  const write = (record) => out.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);

  api.server.on('created_container', (ctx) => {
    write({ event: 'created', container_id: containerId(ctx), port: ctx.container_listen_port, client: client(ctx), fl: ctx.fl });
  });
  api.server.on('destroyed_container', (ctx) => {
    write({ event: 'destroyed', container_id: containerId(ctx), reason: ctx.reason, client: client(ctx), fl: ctx.fl });
  });

  // `anweddol-server call audit.tail --params '{"lines": 20}'`
  api.admin.register('audit.tail', (params) => {
    const lines = Number.isInteger(params.lines) && params.lines > 0 ? Math.min(params.lines, 1000) : 20;
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
    return { lines: text.split('\n').filter(Boolean).slice(-lines).map((line) => JSON.parse(line)) };
  });

  return () => new Promise((resolve) => out.end(resolve));
}
