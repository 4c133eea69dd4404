// Plugs Prometheus metrics into the daemon (`metrics.*` in the config): the series and their listener.
import type { DaemonExtension } from '../daemon-context.js';
import { DaemonMetrics } from './daemon-metrics.js';
import { MetricsListener } from './metrics-listener.js';

export const metricsDaemonExtension: DaemonExtension = async ({ config, server, logger }) => {
  const { enabled, bind_address: bindAddress, listen_port: port } = config.metrics;
  if (!enabled) return;
  const metrics = new DaemonMetrics(server);
  const listener = new MetricsListener({ source: metrics, bindAddress, port });
  try {
    await listener.start();
  } catch (error) {
    metrics.close();
    throw error;
  }
  // A non-loopback bind was already warned about at start (exposure-warnings.ts).
  logger.info(`metrics on ${listener.url()}`);
  return {
    stop: async () => {
      await listener.stop();
      metrics.close();
    },
  };
};
