// `fl train` against a real daemon with fl.transport: rabbitmq: config, composition root, egress rules and sandboxes, end to end.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestInstall, jsonOf, runCli, type TestInstall } from '../helpers/cli-runner.js';
import { DIGITS } from '../helpers/digits-files.js';
import { docker } from '../helpers/docker-sandbox.js';
import { imageWithThisAgent, rabbitmqctlFor } from '../helpers/fl-broker.js';
import { startRabbitmqBroker, type RabbitmqBroker } from '../helpers/rabbitmq-broker.js';

const dockerHost = process.env.DOCKER_HOST;

describe('fl train over the broker against the daemon', { skip: dockerHost?.startsWith('unix://') ? false : 'DOCKER_HOST (unix socket of the private dockerd) is not set' }, () => {
  let install: TestInstall | undefined;
  let broker: RabbitmqBroker | undefined;
  // Created here, so its gateway (where the broker must listen) is known before the daemon starts.
  const networkName = `anw-flbroker-${randomBytes(4).toString('hex')}`;
  let networkCreated = false;
  const cli = (...args: string[]) => runCli([...args, '--config', install!.configPath], { timeoutMs: 300_000 });

  before(async () => {
    const image = imageWithThisAgent();
    docker(['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=false', networkName]);
    networkCreated = true;
    const gateway = docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', networkName]);
    broker = await startRabbitmqBroker({ extraBindAddress: gateway });
    install = await createTestInstall({
      docker: { host: dockerHost! },
      // The default egress policy (internet) is on: only the coordinator and broker ports of the gateway are open.
      container: { image, network_name: networkName, published_address: '127.0.0.1', max_allowed_running_container_domains: 2, container_memory: 512, warm_pool_size: 0 },
      fl: { enabled: true, transport: 'rabbitmq', rabbitmq: { url: broker.url, rabbitmqctl: rabbitmqctlFor(broker) } },
    });
    const start = await cli('start');
    assert.equal(start.code, 0, start.stderr.slice(-2000));
  });

  after(async () => {
    if (install) await cli('stop');
    install?.remove();
    await broker?.close();
    if (networkCreated) docker(['network', 'rm', networkName]);
  });

  it('fl train runs 2 sandboxed clients for 2 rounds through the broker', async () => {
    const run = await cli('fl', 'train', '--clients', '2', '--rounds', '2', '--dataset', DIGITS, '--local-epochs', '2', '--min-clients', '2', '--round-timeout', '60', '--json');
    assert.equal(run.code, 0, run.stderr.slice(-2000) + run.stdout);
    const data = jsonOf(run).data as { final_accuracy: number; rounds: Array<{ round: number; clients: number }> };
    assert.deepEqual(data.rounds.map((r) => [r.round, r.clients]), [[1, 2], [2, 2]]);
    assert.ok(data.final_accuracy > 0.85, String(data.final_accuracy));
  });

  it('deletes the broker users of the finished training', () => {
    const ctl = rabbitmqctlFor(broker!);
    const users = execFileSync(ctl[0]!, [...ctl.slice(1), 'list_users', '--quiet'], { encoding: 'utf8' });
    assert.equal(users.includes('anweddol-fl-'), false, users);
  });
});
