// Child process for the restart test: a server with a warm pool and one claimed sandbox, killed (SIGKILL) by the test once the pool is full.
import { startSandboxServer } from './sandbox-server.js';
import { SANDBOX_IMAGE } from './docker-sandbox.js';

const [databaseFile, serverId, dockerHost] = process.argv.slice(2) as [string, string, string];
const s = await startSandboxServer({ databaseFile, maxSandboxes: 4, backend: { dockerHost, image: SANDBOX_IMAGE, serverId }, serverOptions: { warmPoolSize: 2 } });
const poolFull = async () => {
  while (s.server.getRuntimeStatistics().warmPool.ready < 2) await new Promise((r) => setTimeout(r, 50));
};
await poolFull();
const created = await s.client.create();
if (created.message !== 'OK') throw new Error(`CREATE answered ${created.message}`);
await poolFull();
process.stdout.write(`${JSON.stringify(created.data)}\n`);
// Held until the test kills us: no graceful stop, as in a crash.
setInterval(() => {}, 60_000);
