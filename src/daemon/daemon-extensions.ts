// Features that live in the daemon beside the protocol server (e.g. the FL coordinator) plug in here.
import type { DaemonExtension } from './daemon-context.js';
import { flDaemonExtension } from './fl-extension.js';
import { metricsDaemonExtension } from './metrics/metrics-extension.js';

export type { DaemonContext, DaemonExtension } from './daemon-context.js';

/** Add an extension here (one import + one entry). Metrics come first so that they hear every other extension's events. */
export const daemonExtensions: DaemonExtension[] = [metricsDaemonExtension, flDaemonExtension];
