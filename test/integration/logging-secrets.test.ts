import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnweddolDatabase } from '../../src/database/database.js';
import { AccessTokenStore } from '../../src/database/access-token-store.js';
import { createLogger, logSandboxActivity, type ClosableLogger } from '../../src/server/logging.js';
import { FakeVirtualization } from '../helpers/fake-virtualization.js';
import { startRestServer, type RestServer } from '../helpers/rest-server.js';
import { testServerKeyPair } from '../helpers/test-keys.js';

describe('secrets in the log file', () => {
  let dir: string;
  let logFile: string;
  let logger: ClosableLogger;
  let database: AnweddolDatabase;
  let rest: RestServer;
  const secrets: string[] = [];
  let logText = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'anweddol-secrets-'));
    logFile = join(dir, 'server.log');
    logger = createLogger({ filePath: logFile, level: 'debug' });
    database = new AnweddolDatabase(':memory:');
    const tokens = new AccessTokenStore(database);
    const accessToken = tokens.add().token;
    secrets.push(accessToken, (await testServerKeyPair()).privateKeyPem().split('\n')[1]!);
    rest = await startRestServer({ serverOptions: { virtualization: new FakeVirtualization(), logger, accessTokens: tokens } });
    logSandboxActivity(rest.server, logger);

    const tcp = await rest.tcpClient();
    for (const call of [
      (verb: string, p: Record<string, unknown>) => tcp.request(verb, p),
      (verb: string, p: Record<string, unknown>) => rest.client.request(verb, p),
    ]) {
      const created = await call('CREATE', { access_token: accessToken });
      assert.equal(created.message, 'OK');
      const { container_uuid, client_token, container_password } = created.data as Record<string, string>;
      secrets.push(container_uuid!, client_token!, container_password!);
      // A failed attempt (wrong token) and bad access tokens log too: still nothing secret.
      assert.equal((await call('DESTROY', { access_token: accessToken, container_uuid, client_token: 'B'.repeat(255) })).message, 'Bad authentication');
      assert.equal((await call('STAT', { access_token: 'C'.repeat(124) })).success, false);
      secrets.push('B'.repeat(255), 'C'.repeat(124));
      assert.equal((await call('DESTROY', { access_token: accessToken, container_uuid, client_token })).message, 'OK');
    }
    await rest.close();
    await logger.close();
    logText = readFileSync(logFile, 'utf8');
  });

  after(() => {
    database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logged both sandboxes being created and destroyed', () => {
    assert.equal(logText.match(/sandbox [0-9a-f]{12} created, SSH on port \d+/g)?.length, 2, logText);
    assert.equal(logText.match(/sandbox [0-9a-f]{12} destroyed/g)?.length, 2, logText);
  });

  it('holds no token, password, uuid or private key', () => {
    for (const secret of secrets) assert.equal(logText.includes(secret), false, `log contains a secret: ${secret.slice(0, 12)}…`);
  });
});
