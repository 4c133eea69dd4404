import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NoticeThrottle } from '../../../../src/server/client-limits/notice-throttle.js';

describe('notice throttle', () => {
  it('lets one notice per key through per window', () => {
    let now = 0;
    const throttle = new NoticeThrottle(60_000, () => now);
    assert.equal(throttle.shouldNotice('a'), true);
    assert.equal(throttle.shouldNotice('a'), false);
    assert.equal(throttle.shouldNotice('b'), true);
    now = 59_999;
    assert.equal(throttle.shouldNotice('a'), false);
    now = 60_000;
    assert.equal(throttle.shouldNotice('a'), true);
  });

  it('stays bounded: past its key cap it drops expired keys, and keeps quiet while all are fresh', () => {
    let now = 0;
    const throttle = new NoticeThrottle(1000, () => now, 3);
    for (const key of ['a', 'b', 'c']) assert.equal(throttle.shouldNotice(key), true);
    assert.equal(throttle.shouldNotice('d'), false);
    now = 1000;
    assert.equal(throttle.shouldNotice('d'), true);
  });
});
