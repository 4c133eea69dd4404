// Benchmark: STAT round trips per second over the broker (RabbitMQ interface) next to REST and TCP, one server, one run.
// Run: node --import tsx bench/amqp.ts [--seconds S] [--concurrency 1,16] [--rsa-bits 4096]   (root: starts a private broker)
import { AnweddolAmqpClient } from '../src/client/amqp-client.js';
import { AnweddolHttpClient } from '../src/client/http-client.js';
import { AnweddolTcpClient, generateClientKeyPair } from '../src/client/tcp-client.js';
import { RsaKeyPair } from '../src/crypto/rsa-key-pair.js';
import { AmqpTransport } from '../src/server/amqp/amqp-transport.js';
import { AnweddolServer } from '../src/server/anweddol-server.js';
import { HttpListener } from '../src/server/http-listener.js';
import type { AnweddolResponse } from '../src/server/types.js';
import { startRabbitmqBroker } from '../test/helpers/rabbitmq-broker.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1]!;
};
const seconds = Number(flag('--seconds', '5'));
const concurrencies = flag('--concurrency', '1,16').split(',').map(Number);
const rsaBits = Number(flag('--rsa-bits', '4096'));
const queue = 'anweddol.bench.requests';

/** Round trips per second of `stat` run by `concurrency` loops for `duration` seconds; every answer must be OK. */
async function measure(stat: () => Promise<AnweddolResponse>, concurrency: number, duration = seconds): Promise<number> {
  const deadline = Date.now() + duration * 1000;
  let done = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const response = await stat();
        if (response.message !== 'OK') throw new Error(`STAT answered ${response.message}`);
        done++;
      }
    }),
  );
  return done / (Number(process.hrtime.bigint() - started) / 1e9);
}

const broker = await startRabbitmqBroker();
const server = new AnweddolServer({ rsaKeyPair: await RsaKeyPair.generate(rsaBits), bindAddress: '127.0.0.1', listenPort: 0, maxConnections: 1024, maxConnectionsPerClient: null });
const http = new HttpListener({ server, bindAddress: '127.0.0.1', port: 0 });
const amqp = new AmqpTransport({ server, url: broker.url, queue, prefetch: 64, maxMessageSize: 65536 });
server.addTransport(http).addTransport(amqp);
let amqpClient: AnweddolAmqpClient | undefined;
try {
  await server.start();
  await amqp.whenConsuming();
  amqpClient = await AnweddolAmqpClient.connect({ url: broker.url, queue });
  const tcp = new AnweddolTcpClient({ host: '127.0.0.1', port: server.tcpAddress()!.port, keyPair: await generateClientKeyPair(2048), timeoutMs: 30_000 });
  const rest = new AnweddolHttpClient({ baseUrl: http.url() });
  const clients: Array<[string, () => Promise<AnweddolResponse>]> = [
    [`tcp (RSA-${rsaBits} key exchange per request)`, () => tcp.stat()],
    ['rest (http, new connection per request)', () => rest.stat()],
    ['amqp (broker round trip, one connection)', () => amqpClient!.stat()],
  ];
  console.log(`STAT round trips per second, ${seconds} s per case, one server (TCP, REST and the broker transport), broker on 127.0.0.1`);
  for (const concurrency of concurrencies) {
    for (const [name, stat] of clients) {
      await measure(stat, concurrency, 1); // warm-up, not counted
      console.log(`  c=${String(concurrency).padEnd(3)} ${name.padEnd(48)} ${(await measure(stat, concurrency)).toFixed(0).padStart(7)} /s`);
    }
  }
} finally {
  await amqpClient?.close();
  await server.stop();
  await broker.close();
}
