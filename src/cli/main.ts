#!/usr/bin/env -S node --max-semi-space-size=1
// Entry point of the anweddol-server executable.
// The small young generation keeps the daemon's RSS under 100 MB at 64 concurrent handshakes (bench/handshake.ts).
import { runCli } from './program.js';

await runCli(process.argv.slice(2), {
  env: process.env,
  entry: { execPath: process.execPath, execArgv: process.execArgv, script: process.argv[1]! },
});
