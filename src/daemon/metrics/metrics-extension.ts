// Plugs Prometheus metrics into the daemon (`metrics.*` in the config): the series and their listener.
import type { DaemonExtension } from '../daemon-context.js';
import { DaemonMetrics } from './daemon-metrics.js';
import { MetricsListener, isLoopbackAddress } from './metrics-listener.js';

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
  if (!isLoopbackAddress(bindAddress)) {
    logger.warn(`metrics are served without authentication on ${bindAddress}:${port}: anyone who reaches that address reads them (sandboxes reach the host); bind metrics.bind_address to 127.0.0.1 or filter the port`);
  }
  logger.info(`metrics on ${listener.url()}`);
  return {
    stop: async () => {
      await listener.stop();
      metrics.close();
    },
  };
};
