// Features that live in the daemon beside the protocol server (e.g. the FL coordinator) plug in here.
import type { AnweddolDatabase } from '../../database/database.js';
import type { AnweddolServer } from '../../server/anweddol-server.js';
import type { Logger } from '../../server/logger.js';
import type { VirtualizationInterface } from '../../virtualization/virtualization-interface.js';
import type { AnweddolConfig } from '../config/config-schema.js';
import type { AdminRouter } from './admin-channel.js';
import { flDaemonExtension } from '../../fl/fl-daemon-extension.js';

export interface DaemonContext {
  config: AnweddolConfig;
  server: AnweddolServer;
  database: AnweddolDatabase;
  virtualization: VirtualizationInterface;
  logger: Logger;
  /** Register admin-channel methods (e.g. `fl.train`) for CLI commands to call. */
  admin: AdminRouter;
}

/** Called once the server has started; the returned stop() runs (in reverse order) before the server stops. */
export type DaemonExtension = (ctx: DaemonContext) => Promise<{ stop?(): Promise<void> } | void>;

/** Add an extension here (one import + one entry). */
export const daemonExtensions: DaemonExtension[] = [flDaemonExtension];
