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
  banner: { js: '// anweddol FL agent (bundled)' },
  logLevel: 'warning',
});
