import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkOrigin, checkVerbRequest, isWebOrigin } from '../../../src/server/rest-request-policy.js';

describe('REST request policy', () => {
  it('lets a JSON POST through, whatever the media type parameters and case', () => {
    for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON ;charset=UTF-8']) {
      assert.equal(checkVerbRequest('POST', 'create', type), undefined, type);
    }
  });

  it('lets GET through for STAT only', () => {
    assert.equal(checkVerbRequest('GET', 'stat', undefined), undefined);
    assert.deepEqual(checkVerbRequest('GET', 'create', undefined), { status: 405, reason: 'method GET not allowed, use POST', allow: 'POST' });
  });

  it('answers 405 to every other method, naming GET too for STAT', () => {
    for (const method of ['PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH']) assert.equal(checkVerbRequest(method, 'create', 'application/json')?.status, 405);
    assert.equal((checkVerbRequest('PUT', 'STAT', undefined) as { allow: string }).allow, 'GET, POST');
  });

  it('answers 415 to a POST that is not JSON, or has no Content-Type', () => {
    for (const type of [undefined, '', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'text/json']) {
      assert.equal(checkVerbRequest('POST', 'create', type)?.status, 415, String(type));
    }
  });

  it('lets a request without Origin through, and one with a listed Origin', () => {
    const allowed = new Set(['https://a.example']);
    assert.equal(checkOrigin(undefined, allowed), undefined);
    assert.equal(checkOrigin('https://a.example', allowed), undefined);
  });

  it('refuses any other Origin with 403, "null" included', () => {
    const allowed = new Set(['https://a.example']);
    for (const origin of ['https://b.example', 'http://a.example', 'https://a.example:444', 'null', '']) {
      assert.equal(checkOrigin(origin, allowed)?.status, 403, origin);
    }
  });

  it('accepts configured origins only in the exact form browsers send', () => {
    for (const good of ['https://a.example', 'http://10.0.0.1:8080', 'http://[::1]:8080']) assert.equal(isWebOrigin(good), true, good);
    for (const bad of ['https://a.example/', 'https://a.example/path', 'HTTPS://A.example', 'https://a.example:443', 'a.example', 'null', 'ftp://a.example', '*']) {
      assert.equal(isWebOrigin(bad), false, bad);
    }
  });
});
