#!/usr/bin/env node
// Entry point of the anweddol-server executable.
import { runCli } from './program.js';

await runCli(process.argv.slice(2), {
  env: process.env,
  entry: { execPath: process.execPath, execArgv: process.execArgv, script: process.argv[1]! },
});
