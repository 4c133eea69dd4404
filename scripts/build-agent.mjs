// Bundles the in-sandbox FL agent into one dependency-free ESM file for the sandbox image (Node 18 there).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const entry = 'src/fl/agent/main.ts';
if (!existsSync(entry)) {
  console.error(`build-agent: ${entry} not present yet, skipping`);
  process.exit(0);
}
await build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'esm',
  outfile: 'dist/fl-agent/agent.mjs',
  // amqplib is CommonJS: its require() of Node built-ins needs a real require inside an ESM bundle.
  banner: { js: "// anweddol FL agent (bundled)\nimport { createRequire as __agentCreateRequire } from 'node:module';\nconst require = __agentCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
