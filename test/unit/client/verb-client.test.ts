import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnweddolVerbClient } from '../../../src/client/verb-client.js';
import type { AnweddolResponse } from '../../../src/server/types.js';

/** Records what each verb method hands to the transport. */
class RecordingClient extends AnweddolVerbClient {
  readonly sent: { verb: string; parameters: Record<string, unknown> | undefined }[] = [];

  request(verb: string, parameters?: Record<string, unknown>): Promise<AnweddolResponse> {
    this.sent.push({ verb, parameters });
    return Promise.resolve({ success: true, message: 'OK', data: {} });
  }
}

describe('AnweddolVerbClient', () => {
  it('sends STAT and CREATE with the parameters given', async () => {
    const client = new RecordingClient();
    await client.stat({ a: 1 });
    await client.create({ b: 2 });
    assert.deepEqual(client.sent, [
      { verb: 'STAT', parameters: { a: 1 } },
      { verb: 'CREATE', parameters: { b: 2 } },
    ]);
  });

  it('puts the credentials of DESTROY and RENEW over same-named extra parameters', async () => {
    const client = new RecordingClient();
    await client.destroy('uuid-1', 'token-1', { container_uuid: 'other', client_token: 'other', extra: true });
    await client.renew('uuid-2', 'token-2');
    assert.deepEqual(client.sent, [
      { verb: 'DESTROY', parameters: { container_uuid: 'uuid-1', client_token: 'token-1', extra: true } },
      { verb: 'RENEW', parameters: { container_uuid: 'uuid-2', client_token: 'token-2' } },
    ]);
  });
});
