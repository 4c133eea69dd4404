import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { confirm } from '../../../src/cli/confirm.js';

function terminal(answer: string) {
  const input = Object.assign(new PassThrough(), { isTTY: true });
  const output = new PassThrough();
  let asked = '';
  output.on('data', (chunk: Buffer) => {
    asked += chunk.toString('utf8');
    input.write(`${answer}\n`);
  });
  return { streams: { input, output }, asked: () => asked };
}

describe('confirm', () => {
  it('answers yes for -y without asking', async () => {
    const tty = terminal('n');
    assert.equal(await confirm('Replace?', { assumeYes: true }, true, tty.streams), true);
    assert.equal(tty.asked(), '');
  });

  it('answers no for -n without asking', async () => {
    const tty = terminal('y');
    assert.equal(await confirm('Replace?', { assumeNo: true }, true, tty.streams), false);
    assert.equal(tty.asked(), '');
  });

  it('answers no when nobody can answer (no terminal)', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: false });
    assert.equal(await confirm('Replace?', {}, true, { input, output: new PassThrough() }), false);
  });

  it('answers no under --json, where stdout is one JSON object', async () => {
    const tty = terminal('y');
    assert.equal(await confirm('Replace?', {}, false, tty.streams), false);
    assert.equal(tty.asked(), '');
  });

  it('asks a terminal and takes its y', async () => {
    const tty = terminal('y');
    assert.equal(await confirm('Replace?', {}, true, tty.streams), true);
    assert.equal(tty.asked(), 'Replace? (y/n) ');
  });
});
