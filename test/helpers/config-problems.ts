// The problems a config file is refused with, for the config tests.
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/daemon/config/config-loader.js';

/** The problem lines `parseConfig` refuses `yaml` with; fails the test when it accepts the file. */
export function problemsOf(yaml: string): string[] {
  try {
    parseConfig(yaml, {}, '/etc/anweddol');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}
