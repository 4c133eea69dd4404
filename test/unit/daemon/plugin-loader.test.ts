import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlugins, PluginError } from '../../../src/daemon/plugins/plugin-loader.js';
import type { PluginEntry } from '../../../src/daemon/plugins/plugin-api.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'anweddol-plugin-loader-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a plugin module into the temp folder and returns its path. */
function plugin(file: string, source: string): string {
  const path = join(dir, file);
  writeFileSync(path, source);
  return path;
}

/** The problem lines loadPlugins throws for these entries. */
async function problemsOf(entries: PluginEntry[]): Promise<string[]> {
  try {
    await loadPlugins(entries);
  } catch (error) {
    assert.ok(error instanceof PluginError, String(error));
    return error.problems;
  }
  assert.fail('loadPlugins accepted the plugins');
}

describe('loadPlugins', () => {
  it('loads a named register export with its config', async () => {
    const path = plugin('named.mjs', 'export function register() {}');
    const [loaded] = await loadPlugins([{ path, config: { a: 1 } }]);
    assert.equal(loaded!.name, 'named');
    assert.equal(loaded!.label, 'plugin "named" (plugins[0])');
    assert.deepEqual(loaded!.config, { a: 1 });
  });

  it('takes a default export that is a function as register', async () => {
    const path = plugin('default-export.mjs', 'export default function () {}');
    const [loaded] = await loadPlugins([path]);
    assert.equal(typeof loaded!.register, 'function');
  });

  it('names the plugin after its name export when there is one', async () => {
    const path = plugin('file-name.mjs', 'export const name = "nice-name"; export function register() {}');
    assert.equal((await loadPlugins([path]))[0]!.name, 'nice-name');
  });

  it('fills config defaults from the plugin configSchema', async () => {
    const path = plugin('defaults.mjs', 'export const configSchema = { type: "object", properties: { n: { type: "integer", default: 7 } } }; export function register() {}');
    assert.deepEqual((await loadPlugins([path]))[0]!.config, { n: 7 });
  });

  it('reports a path that does not exist', async () => {
    const path = join(dir, 'missing.mjs');
    assert.deepEqual(await problemsOf([path]), [`plugin "missing" (plugins[0]): ${path}: no such file`]);
  });

  it('reports a folder given as a plugin', async () => {
    const path = join(dir, 'folder.mjs');
    mkdirSync(path, { recursive: true });
    assert.deepEqual(await problemsOf([path]), [`plugin "folder" (plugins[0]): ${path}: not a file`]);
  });

  it('reports a file that is not an ES module by its extension', async () => {
    const path = plugin('notes.txt', 'hello');
    assert.deepEqual(await problemsOf([path]), [`plugin "notes" (plugins[0]): ${path}: not an ES module (.mjs or .js)`]);
  });

  it('reports a module that does not parse', async () => {
    const path = plugin('broken.mjs', 'export function register( {');
    const [line] = await problemsOf([path]);
    assert.match(line!, /^plugin "broken" \(plugins\[0\]\): .*broken\.mjs: not a valid ES module \(SyntaxError: /);
  });

  it('reports a module that throws while loading', async () => {
    const path = plugin('throws-on-load.mjs', 'throw new Error("no database here");');
    const [line] = await problemsOf([path]);
    assert.match(line!, /: failed to load \(Error: no database here\)$/);
  });

  it('reports a module without a register export', async () => {
    const path = plugin('no-register.mjs', 'export const register = 42;');
    assert.deepEqual(await problemsOf([path]), ['plugin "no-register" (plugins[0]): no register export (export function register(api), or a default export being that function)']);
  });

  it('reports each schema fault on its own line with the key path', async () => {
    const path = plugin(
      'schema.mjs',
      'export const configSchema = { type: "object", additionalProperties: false, required: ["url"], properties: { url: { type: "string" }, tries: { type: "integer" } } }; export function register() {}',
    );
    const other = plugin('fine.mjs', 'export function register() {}');
    const problems = await problemsOf([other, { path, config: { url: 5, tries: 'x', extra: true } }]);
    assert.deepEqual(problems.sort(), [
      'plugins[1].config.extra: unknown key (plugin "schema")',
      'plugins[1].config.tries: must be integer (plugin "schema")',
      'plugins[1].config.url: must be string (plugin "schema")',
    ]);
  });

  it('reports a configSchema that is not a valid JSON Schema', async () => {
    const path = plugin('bad-schema.mjs', 'export const configSchema = { type: "no-such-type" }; export function register() {}');
    const [line] = await problemsOf([path]);
    assert.match(line!, /^plugin "bad-schema" \(plugins\[0\]\): configSchema is not a valid JSON Schema/);
  });

  it('lists the problems of every plugin, not only the first', async () => {
    const problems = await problemsOf([join(dir, 'gone-a.mjs'), join(dir, 'gone-b.mjs')]);
    assert.equal(problems.length, 2);
  });

  it('validates the config of a plugin given as an object', async () => {
    const problems = await problemsOf([{ name: 'inline', register: () => {}, configSchema: { type: 'object', required: ['x'] }, config: {} }]);
    assert.deepEqual(problems, ["plugins[0].config: must have required property 'x' (plugin \"inline\")"]);
  });
});
