// Every subcommand of anweddol-server; a feature adds its command module here (one import + one entry).
import type { CommandRegistrar } from '../command-kit.js';
import { registerAccessTk } from './access-tk.js';
import { registerBuildImage } from './build-image.js';
import { registerDestroy } from './destroy.js';
import { registerCall } from './call.js';
import { registerDashboardUrl } from './dashboard-url.js';
import { registerFl } from './fl.js';
import { registerRegenRsa, registerRegenTls } from './regen-keys.js';
import { registerSeccompProfile } from './seccomp-profile.js';
import { registerServerLifecycle } from './server-lifecycle.js';
import { registerStat } from './stat.js';
import { registerVersion } from './version.js';

export const commands: CommandRegistrar[] = [
  registerServerLifecycle,
  registerStat,
  registerDestroy,
  registerCall,
  registerAccessTk,
  registerRegenRsa,
  registerRegenTls,
  registerBuildImage,
  registerSeccompProfile,
  registerFl,
  registerDashboardUrl,
  registerVersion,
];
