// Plugs Prometheus metrics into the daemon (`metrics.*` in the config): the series, their listener, and the dashboard on it.
import type { DaemonExtension } from '../daemon-context.js';
import { AdminError } from '../admin-channel.js';
import { DashboardAuth, LOGIN_TOKEN_TTL_MS } from '../dashboard/dashboard-auth.js';
import { DashboardEvents } from '../dashboard/dashboard-events.js';
import { registerDashboardRoutes } from '../dashboard/dashboard-routes.js';
import { DaemonMetrics } from './daemon-metrics.js';
import { MetricsListener } from './metrics-listener.js';

/** The start form's JSON is the largest body the listener takes. */
const DASHBOARD_BODY_LIMIT = 16 * 1024;

export const metricsDaemonExtension: DaemonExtension = async ({ config, server, logger, admin }) => {
  const { enabled, bind_address: bindAddress, listen_port: port, dashboard_enabled: dashboardEnabled, dashboard_session_ttl: sessionTtl } = config.metrics;
  if (!enabled) {
    admin.register('dashboard-url', () => {
      throw new AdminError('the dashboard is served on the metrics listener: set metrics.enabled: true');
    });
    return;
  }
  const metrics = new DaemonMetrics(server);
  const auth = new DashboardAuth(sessionTtl * 1000);
  const events = dashboardEnabled ? new DashboardEvents(server) : undefined;
  const listener = new MetricsListener({
    source: metrics,
    bindAddress,
    port,
    bodyLimit: DASHBOARD_BODY_LIMIT,
    ...(events ? { routes: (app) => registerDashboardRoutes(app, { auth, events, admin, capacity: server.options.maxSandboxes, reportRefusal: (reason) => server.reportRefusal(reason) }) } : {}),
  });
  admin.register('dashboard-url', () => {
    if (!events) throw new AdminError('the dashboard is disabled: set metrics.dashboard_enabled: true');
    const token = auth.issueLoginToken();
    return { url: listener.url(`/dashboard/login?token=${token}`), expires_in_seconds: LOGIN_TOKEN_TTL_MS / 1000, session_ttl_seconds: sessionTtl };
  });
  const release = () => {
    events?.close();
    metrics.close();
  };
  try {
    await listener.start();
  } catch (error) {
    release();
    throw error;
  }
  // A non-loopback bind was already warned about at start (exposure-warnings.ts).
  logger.info(`metrics on ${listener.url()}${events ? `, dashboard on ${listener.url('/dashboard/')}` : ''}`);
  return {
    stop: async () => {
      await listener.stop();
      release();
    },
  };
};
