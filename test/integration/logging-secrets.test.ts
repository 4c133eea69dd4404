// No secret reaches the log, whole or in part: CREATE/DESTROY over TCP and REST plus an FL training, on the real daemon and Docker backend.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnweddolHttpClient } from '../../src/client/http-client.js';
import { AnweddolTcpClient } from '../../src/client/tcp-client.js';
import { generateAccessToken, generateClientToken } from '../../src/crypto/tokens.js';
import { AccessTokenStore } from '../../src/database/access-token-store.js';
import { AnweddolDatabase } from '../../src/database/database.js';
import { adminRequest } from '../../src/daemon/admin-channel.js';
import { loadConfig } from '../../src/daemon/config/config-loader.js';
import type { AnweddolConfig } from '../../src/daemon/config/config-schema.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { createVirtualization, serverIdFor } from '../../src/daemon/virtualization-factory.js';
import type { TrainingSummary } from '../../src/fl/coordinator/fl-coordinator.js';
import { clientId } from '../../src/server/client-info.js';
import type { AnweddolResponse } from '../../src/server/types.js';
import type { SandboxFile, SandboxSpec, VirtualizationInterface } from '../../src/virtualization/virtualization-interface.js';
import { createTestInstall, type TestInstall } from '../helpers/cli-runner.js';
import { containersOf, dockerHost, sshRun } from '../helpers/docker-sandbox.js';

const DIGITS = fileURLToPath(new URL('../fixtures/digits.csv.gz', import.meta.url));
const SLICE = 8;

/** What the backend was handed: every sandbox's spec (uuid, SSH password) and every FL agent's bearer token. */
interface Handed {
  specs: SandboxSpec[];
  agentTokens: string[];
}

/** The real backend, recording the secrets only it sees: FL sandbox passwords and agent tokens never leave the daemon otherwise. */
function recording(backend: VirtualizationInterface, handed: Handed): VirtualizationInterface {
  return new Proxy(backend, {
    get(target, property) {
      if (property === 'create') {
        return (spec: SandboxSpec, signal?: AbortSignal) => {
          handed.specs.push(spec);
          return target.create(spec, signal);
        };
      }
      if (property === 'putFiles') {
        return (id: string, directory: string, files: SandboxFile[]) => {
          for (const file of files) if (file.name === 'config.json') handed.agentTokens.push((JSON.parse(file.content.toString('utf8')) as { token: string }).token);
          return target.putFiles(id, directory, files);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The first piece of `secret` (whole, or any SLICE-character slice) found in `text`. */
function leakedPiece(text: string, secret: string): string | undefined {
  if (text.includes(secret)) return secret;
  for (let i = 0; i + SLICE <= secret.length; i++) {
    const piece = secret.slice(i, i + SLICE);
    if (text.includes(piece)) return piece;
  }
  return undefined;
}

type Call = (verb: string, parameters: Record<string, unknown>) => Promise<AnweddolResponse>;

describe('secrets in the log file (real daemon, Docker backend, FL)', { skip: process.env.DOCKER_HOST?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  let install: TestInstall;
  let config: AnweddolConfig;
  let daemon: RunningDaemon | undefined;
  const handed: Handed = { specs: [], agentTokens: [] };
  /** Secrets by kind, for a readable failure. */
  const secrets: Array<[kind: string, value: string]> = [];
  let logText = '';

  before(async () => {
    install = await createTestInstall({
      server: { log_level: 'debug' },
      docker: { host: dockerHost() },
      web_server: { enabled: true },
      access_token: { enabled: true },
      container: { published_address: '127.0.0.1', max_allowed_running_container_domains: 3, container_memory: 512 },
      fl: { enabled: true },
    });
    config = loadConfig(install.configPath, {});
    daemon = await startDaemon(config, { createVirtualization: (c, logger, beforeAvailable) => recording(createVirtualization(c, logger, beforeAvailable), handed) });
    const tokenDatabase = new AnweddolDatabase(config.access_token.access_token_database_file_path);
    const accessToken = new AccessTokenStore(tokenDatabase).add().token;
    tokenDatabase.close();
    secrets.push(['access token', accessToken]);

    const tcpPort = daemon.listeners().find((l) => l.transport === 'tcp')!.port;
    const httpPort = daemon.listeners().find((l) => l.transport === 'http')!.port;
    const tcp = new AnweddolTcpClient({ host: '127.0.0.1', port: tcpPort, rsaKeyBits: 2048, timeoutMs: 60_000 });
    const http = new AnweddolHttpClient({ baseUrl: `http://127.0.0.1:${httpPort}`, timeoutMs: 60_000 });
    const transports: Array<[string, Call]> = [
      ['tcp', (verb, p) => tcp.request(verb, p)],
      ['rest', (verb, p) => http.request(verb, p)],
    ];
    for (const [transport, call] of transports) {
      const created = await call('CREATE', { access_token: accessToken });
      assert.equal(created.message, 'OK', `${transport} CREATE`);
      const { container_uuid, client_token, container_username, container_password, container_listen_port } = created.data as Record<string, string>;
      secrets.push([`${transport} container uuid`, container_uuid!], [`${transport} client token`, client_token!], [`${transport} SSH password`, container_password!]);
      const login = await sshRun(Number(container_listen_port), container_username!, container_password!, 'id -un');
      assert.equal(login.stdout.trim(), container_username, `${transport} SSH login`);
      // Wrong credentials and a wrong access token are logged too: still nothing secret of theirs.
      const wrongToken = generateClientToken();
      const wrongAccessToken = generateAccessToken();
      secrets.push([`${transport} wrong client token`, wrongToken], [`${transport} wrong access token`, wrongAccessToken]);
      assert.equal((await call('DESTROY', { access_token: accessToken, container_uuid, client_token: wrongToken })).message, 'Bad authentication');
      assert.equal((await call('STAT', { access_token: wrongAccessToken })).success, false);
      assert.equal((await call('DESTROY', { access_token: accessToken, container_uuid, client_token })).message, 'OK');
    }

    const training = (await adminRequest(
      config.server.admin_socket_path,
      'fl.train',
      { clients: 2, rounds: 1, dataset: DIGITS, localEpochs: 1, minClients: 2, roundTimeoutSeconds: 60 },
      { timeoutMs: 300_000 },
    )) as TrainingSummary;
    assert.equal(training.status, 'finished', training.message);

    for (const spec of handed.specs) secrets.push(['sandbox uuid', spec.uuid], ['sandbox SSH password', spec.password]);
    for (const token of handed.agentTokens) secrets.push(['FL bearer token', token]);
    await daemon.stop();
    daemon = undefined;
    logText = readFileSync(config.server.log_file_path, 'utf8');
  });

  after(async () => {
    await daemon?.stop();
    install?.remove();
  });

  it('ran two client sandboxes and two FL sandboxes, and left none behind', () => {
    assert.equal(handed.specs.length, 4);
    assert.equal(handed.agentTokens.length, 2);
    assert.deepEqual(containersOf(serverIdFor(config)), []);
  });

  it('logged every sandbox being created and destroyed, FL ones included', () => {
    assert.equal(logText.match(/client [0-9a-f]{12}: sandbox [0-9a-f]{12} created, SSH on port \d+/g)?.length, 2, logText);
    assert.equal(logText.match(/client [0-9a-f]{12}: sandbox [0-9a-f]{12} destroyed \(destroy_request\)/g)?.length, 2, logText);
    assert.equal(logText.match(/FL training \S+ client-\d: sandbox [0-9a-f]{12} created/g)?.length, 2, logText);
    assert.equal(logText.match(/FL training \S+ client-\d: sandbox [0-9a-f]{12} destroyed \(training_ended\)/g)?.length, 2, logText);
  });

  it('names clients by their id under the install key, which the daemon created 0600 beside the database', () => {
    const keyFile = join(dirname(config.database.file_path), 'client-id.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const id = clientId('127.0.0.1', readFileSync(keyFile));
    assert.equal(logText.match(new RegExp(`client ${id}: sandbox [0-9a-f]{12} created`, 'g'))?.length, 2, logText);
  });

  it('holds no token, password or uuid, whole or as any 8-character slice', () => {
    assert.ok(secrets.length >= 17, `only ${secrets.length} secrets collected`);
    for (const [kind, secret] of secrets) {
      const piece = leakedPiece(logText, secret);
      assert.equal(piece, undefined, `the log holds ${piece === secret ? 'a whole' : `"${piece}", a slice of a`} ${kind}`);
    }
  });
});
