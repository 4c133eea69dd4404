import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CliError, CliOutput } from '../../../src/cli/cli-output.js';
import { ConfigError } from '../../../src/daemon/config/config-loader.js';

function capture() {
  const out = { stdout: '', stderr: '' };
  const streams = {
    stdout: { write: (t: string) => (out.stdout += t) },
    stderr: { write: (t: string) => (out.stderr += t) },
  };
  return { out, streams };
}

describe('CliOutput', () => {
  it('prints one JSON object for a success with --json', () => {
    const { out, streams } = capture();
    const code = new CliOutput(true, streams).success({ message: 'done', data: { a: 1 }, lines: ['ignored'] });
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out.stdout), { status: 'OK', message: 'done', data: { a: 1 } });
  });

  it('keeps progress off stdout with --json', () => {
    const { out, streams } = capture();
    new CliOutput(true, streams).progress('working');
    assert.equal(out.stdout, '');
    assert.equal(out.stderr, 'working\n');
  });

  it('prints the human lines otherwise and passes a chosen exit code', () => {
    const { out, streams } = capture();
    assert.equal(new CliOutput(false, streams).success({ message: 'm', lines: ['a', 'b'], exitCode: 3 }), 3);
    assert.equal(out.stdout, 'a\nb\n');
  });

  it('reports a CliError with its data as status ERROR and exit 1', () => {
    const { out, streams } = capture();
    assert.equal(new CliOutput(true, streams).failure(new CliError('bad', { id: 2 })), 1);
    assert.deepEqual(JSON.parse(out.stdout), { status: 'ERROR', message: 'bad', data: { id: 2 } });
  });

  it('lists config problems one per line for humans and in data.problems for JSON', () => {
    const error = new ConfigError(['a: unknown key', 'b: must be x, got 1']);
    const human = capture();
    new CliOutput(false, human.streams).failure(error);
    assert.equal(human.out.stderr, 'error: a: unknown key\nerror: b: must be x, got 1\n');
    const json = capture();
    new CliOutput(true, json.streams).failure(error);
    assert.deepEqual(JSON.parse(json.out.stdout).data, { problems: ['a: unknown key', 'b: must be x, got 1'] });
  });

  it('labels an unexpected error as such', () => {
    const { out, streams } = capture();
    new CliOutput(false, streams).failure(new TypeError('boom'));
    assert.equal(out.stderr, 'error: unexpected error: boom\n');
  });
});
