// Scrapes a Prometheus endpoint over a real socket and reads the text exposition format into samples; serves a server's metrics as the daemon does.
import { DaemonMetrics } from '../../src/daemon/metrics/daemon-metrics.js';
import { MetricsListener } from '../../src/daemon/metrics/metrics-listener.js';
import type { AnweddolServer } from '../../src/server/anweddol-server.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  status: number;
  contentType: string;
  text: string;
  samples: Sample[];
  /** The value of one series (exact label match); undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  const text = await response.text();
  const samples = response.status === 200 ? parseExposition(text) : [];
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    text,
    samples,
    value: (name, labels = {}) => {
      const wanted = Object.entries(labels);
      const found = samples.find((s) => s.name === name && Object.keys(s.labels).length === wanted.length && wanted.every(([k, v]) => s.labels[k] === v));
      return found?.value;
    },
  };
}

export interface ServedMetrics {
  /** The `/metrics` URL. */
  url: string;
  read(): Promise<Scrape>;
  /** Stops the listener and the counting. */
  close(): Promise<void>;
}

/** A server's metrics on an ephemeral loopback port, the daemon's registry and listener. */
export async function serveMetrics(server: AnweddolServer): Promise<ServedMetrics> {
  const metrics = new DaemonMetrics(server);
  const listener = new MetricsListener({ source: metrics, bindAddress: '127.0.0.1', port: 0 });
  try {
    await listener.start();
  } catch (error) {
    metrics.close();
    throw error;
  }
  const url = listener.url();
  return {
    url,
    read: () => scrape(url),
    close: async () => {
      await listener.stop();
      metrics.close();
    },
  };
}
