import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeLengthPrefix, parseLengthPrefix } from '../../../../src/server/protocol/length-prefix.js';
import { ProtocolViolation } from '../../../../src/server/protocol/protocol-violation.js';

const ascii = (text: string) => Buffer.from(text, 'latin1');

describe('length prefix', () => {
  it('encodes 800 as 800=====', () => {
    assert.equal(encodeLengthPrefix(800).toString('ascii'), '800=====');
  });

  it('round-trips every width from 1 to 8 digits', () => {
    for (const n of [1, 42, 800, 4096, 16384, 999999, 1234567, 99999999]) assert.equal(parseLengthPrefix(encodeLengthPrefix(n), 99999999), n);
  });

  it('refuses to encode zero, negatives and numbers wider than 8 digits', () => {
    for (const n of [0, -1, 1.5, 100000000]) assert.throws(() => encodeLengthPrefix(n), RangeError);
  });

  it('rejects zero, negatives, non-numeric text, embedded padding and values over the cap', () => {
    for (const text of ['0=======', '00000000', '-800====', 'abc=====', '80=0====', '========', ' 800====', '8e2=====', '0x10====']) {
      assert.throws(() => parseLengthPrefix(ascii(text), 16384), ProtocolViolation, text);
    }
    assert.throws(() => parseLengthPrefix(ascii('16385==='), 16384), /exceeds cap/);
    assert.throws(() => parseLengthPrefix(ascii('99999999'), 16384), /exceeds cap/);
  });

  it('rejects a prefix that is not 8 bytes', () => {
    assert.throws(() => parseLengthPrefix(ascii('800===='), 16384), ProtocolViolation);
  });
});
