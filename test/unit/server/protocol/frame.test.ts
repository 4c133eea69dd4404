import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionCipher } from '../../../../src/crypto/session-cipher.js';
import { decodeMessageBody, encodeMessageBody, openFramePayload, parseFrameHeader, sealFrame } from '../../../../src/server/protocol/frame.js';
import { ProtocolViolation } from '../../../../src/server/protocol/protocol-violation.js';

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const IV = Buffer.from(Array.from({ length: 16 }, (_, i) => 0xa0 + i));
const VECTOR_TEXT = '{"verb": "STAT", "parameters": {}}';
const VECTOR_P = 'e7cc1c24acbbdcd0b5bd36f464a48cf474b7caa3240346b84533ef3475755d4bf41f034f046621ca03e839f9a367b0c5';
const VECTOR_HEADER = 'a3b241b0d4374e53991e82ff646b3a61';
const NEXT_IV = Buffer.alloc(16, 0x5a);

describe('frame codec', () => {
  it('matches the docs/protocol.md §5 vector byte for byte', () => {
    const frame = sealFrame(new SessionCipher(KEY, IV), Buffer.from(VECTOR_TEXT, 'utf8'), NEXT_IV);
    assert.equal(frame.header.toString('hex'), VECTOR_HEADER);
    assert.equal(frame.payload.subarray(0, 48).toString('hex'), VECTOR_P);
    assert.deepEqual(frame.payload.subarray(48), NEXT_IV);
  });

  it('parses the vector header to 64', () => {
    assert.equal(parseFrameHeader(new SessionCipher(KEY, IV), Buffer.from(VECTOR_HEADER, 'hex'), 65536), 64);
  });

  it('opens the vector payload and moves the IV to the trailing 16 bytes', () => {
    const cipher = new SessionCipher(KEY, IV);
    const body = openFramePayload(cipher, Buffer.concat([Buffer.from(VECTOR_P, 'hex'), NEXT_IV]));
    assert.equal(body.toString('utf8'), VECTOR_TEXT);
    assert.deepEqual(cipher.iv, NEXT_IV);
  });

  it('round-trips a request then a response with the IV chaining through both', () => {
    const sender = new SessionCipher(KEY, IV);
    const receiver = new SessionCipher(KEY, IV);
    for (const message of [{ verb: 'STAT', parameters: {} }, { success: true, message: 'OK', data: { é: 'ü'.repeat(100) } }]) {
      const frame = sealFrame(sender, encodeMessageBody(message));
      const length = parseFrameHeader(receiver, frame.header, 65536);
      assert.equal(length, frame.payload.length);
      assert.deepEqual(decodeMessageBody(openFramePayload(receiver, frame.payload)), message);
      assert.deepEqual(sender.iv, receiver.iv);
    }
  });

  it('rejects a header above the frame cap', () => {
    const sender = new SessionCipher(KEY, IV);
    const frame = sealFrame(sender, Buffer.alloc(1000, 0x61));
    assert.throws(() => parseFrameHeader(new SessionCipher(KEY, IV), frame.header, 512), ProtocolViolation);
  });

  it('rejects a header that decrypts to something other than a decimal', () => {
    const header = new SessionCipher(KEY, IV).encrypt(Buffer.from('12a', 'ascii'));
    assert.throws(() => parseFrameHeader(new SessionCipher(KEY, IV), header, 65536), /not a decimal/);
  });

  it('rejects a header that does not decrypt (bad padding)', () => {
    assert.throws(() => parseFrameHeader(new SessionCipher(KEY, IV), Buffer.alloc(16, 0), 65536), ProtocolViolation);
  });

  it('rejects a length of 16 or less', () => {
    const header = new SessionCipher(KEY, IV).encrypt(Buffer.from('16', 'ascii'));
    assert.throws(() => parseFrameHeader(new SessionCipher(KEY, IV), header, 65536), /too small/);
  });

  it('rejects a body that is not UTF-8, not JSON, or not an object', () => {
    assert.throws(() => decodeMessageBody(Buffer.from([0xff, 0xfe, 0x7b])), /not UTF-8/);
    assert.throws(() => decodeMessageBody(Buffer.from('{"verb":', 'utf8')), /not JSON/);
    assert.throws(() => decodeMessageBody(Buffer.from('[1,2]', 'utf8')), /not a JSON object/);
    assert.throws(() => decodeMessageBody(Buffer.from('null', 'utf8')), /not a JSON object/);
  });
});
