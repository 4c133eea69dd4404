// Dashboard login tokens are single use and short-lived; sessions end after their TTL.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DashboardAuth, LOGIN_TOKEN_TTL_MS } from '../../../src/daemon/dashboard/dashboard-auth.js';

describe('DashboardAuth', () => {
  const clock = () => {
    const c = { now: 1_000_000, auth: undefined as unknown as DashboardAuth };
    c.auth = new DashboardAuth(60_000, () => c.now);
    return c;
  };

  it('opens a session with a login token, once', () => {
    const { auth } = clock();
    const token = auth.issueLoginToken();
    const session = auth.redeem(token);
    assert.ok(session !== undefined && auth.isValidSession(session));
    assert.equal(auth.redeem(token), undefined);
  });

  it('refuses a login token after its lifetime', () => {
    const c = clock();
    const token = c.auth.issueLoginToken();
    c.now += LOGIN_TOKEN_TTL_MS;
    assert.equal(c.auth.redeem(token), undefined);
  });

  it('ends a session after its TTL', () => {
    const c = clock();
    const session = c.auth.redeem(c.auth.issueLoginToken())!;
    c.now += 59_999;
    assert.equal(c.auth.isValidSession(session), true);
    c.now += 1;
    assert.equal(c.auth.isValidSession(session), false);
  });

  it('knows no session it did not open, nor a login token as a session', () => {
    const { auth } = clock();
    const token = auth.issueLoginToken();
    assert.equal(auth.isValidSession(token), false);
    assert.equal(auth.isValidSession('x'.repeat(43)), false);
    assert.equal(auth.isValidSession(undefined), false);
  });
});
