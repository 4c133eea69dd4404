// Example: a program that embeds anweddol-server, assembling from the package entry alone what the CLI daemon assembles.
// Run: EMBED_HOME=/tmp/embed DOCKER_HOST=unix:///var/run/docker.sock node dist/examples/embed.js (after npm run build).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  AccessTokenStore,
  AnweddolDatabase,
  AnweddolServer,
  DockerVirtualization,
  HttpListener,
  IpFilter,
  RsaKeyPair,
  SqliteSessionStore,
  createLogger,
} from 'anweddol-server';

const env = process.env;
const home = env.EMBED_HOME ?? '/var/lib/anweddol-embed';
const bindAddress = env.EMBED_BIND_ADDRESS ?? '127.0.0.1';
mkdirSync(home, { recursive: true, mode: 0o750 });

const logger = createLogger({ filePath: join(home, 'server.log'), level: 'info' });
const rsaKeyPair = await RsaKeyPair.loadOrGenerate(join(home, 'rsa/public.pem'), join(home, 'rsa/private.pem'), 2048);
const database = new AnweddolDatabase(join(home, 'anweddol.db'));
const sessions = new SqliteSessionStore(database);
const accessTokens = new AccessTokenStore(database);
const ipFilter = new IpFilter({ allowed: (env.EMBED_ALLOWED ?? '127.0.0.1,::1').split(','), denied: [] });
const virtualization = new DockerVirtualization({
  dockerHost: env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
  serverId: env.EMBED_SERVER_ID ?? 'anweddol-embed',
  publishedAddress: bindAddress,
  portRange: [14000, 14099],
  memoryMiB: 256,
  logger,
});

const server = new AnweddolServer({
  rsaKeyPair,
  virtualization,
  sessions,
  accessTokens,
  ipFilter: (address) => ipFilter.isAllowed(address),
  bindAddress,
  listenPort: Number(env.EMBED_TCP_PORT ?? 6150),
  maxSandboxes: 2,
  logger,
});
server.addTransport(new HttpListener({ server, bindAddress, port: Number(env.EMBED_HTTP_PORT ?? 8080), logger }));

// A hook that may veto, and a custom verb: the same calls a daemon plugin makes through api.server.
let created = 0;
server.on('created_container', (ctx) => (++created > 100 ? ctx.refuse('this example serves 100 sandboxes per run') : undefined));
server.setRequestHandler('HELLO', (_request, ctx) => ({ success: true, message: 'OK', data: { you: ctx.client.id, created } }));

await server.start();
// One access token for this run, shown once (only its hash is stored), as `access-tk --add` does.
const { token } = accessTokens.add();
console.log(JSON.stringify({ started: true, tcp: server.tcpAddress()?.port, access_token: token }));

const stop = async () => {
  await server.stop();
  database.close();
  await logger.close();
  console.log(JSON.stringify({ stopped: true }));
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
