// What a daemon extension receives, and what it returns: the contract between the composition root and the features it wires in.
import type { AnweddolDatabase } from '../database/database.js';
import type { AnweddolServer } from '../server/anweddol-server.js';
import type { Logger } from '../shared/logger.js';
import type { VirtualizationInterface } from '../virtualization/virtualization-interface.js';
import type { AnweddolConfig } from './config/config-schema.js';
import type { AdminRouter } from './admin-channel.js';

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
