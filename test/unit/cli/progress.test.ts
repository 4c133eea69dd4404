// Progress bars only on a terminal without --json; build-image's steps are the lines iso/build.sh logs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildStep, wantsProgressBar } from '../../../src/cli/progress.js';

describe('progress display', () => {
  const stream = (isTTY: boolean) => ({ isTTY, write: () => true });

  it('draws a bar on a terminal', () => {
    assert.equal(wantsProgressBar(false, stream(true)), true);
  });

  it('keeps plain lines on a pipe', () => {
    assert.equal(wantsProgressBar(false, stream(false)), false);
  });

  it('keeps --json free of any bar, even on a terminal', () => {
    assert.equal(wantsProgressBar(true, stream(true)), false);
  });

  it('reads a build step from iso/build.sh’s log lines only', () => {
    assert.equal(buildStep('iso/build.sh: building anweddol/sandbox:abc'), 'building anweddol/sandbox:abc');
    assert.equal(buildStep('Step 3/9 : RUN apt-get install'), undefined);
  });
});
