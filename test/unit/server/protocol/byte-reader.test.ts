import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteReader } from '../../../../src/server/protocol/byte-reader.js';

describe('ByteReader', () => {
  it('returns nothing until exactly N bytes are buffered', () => {
    const reader = new ByteReader();
    reader.push(Buffer.from('ab'));
    assert.equal(reader.read(3), undefined);
    assert.equal(reader.buffered, 2);
    reader.push(Buffer.from('cd'));
    assert.equal(reader.read(3)?.toString(), 'abc');
    assert.equal(reader.buffered, 1);
  });

  it('reassembles reads across many one-byte chunks', () => {
    const reader = new ByteReader();
    for (const byte of Buffer.from('hello world')) reader.push(Buffer.from([byte]));
    assert.equal(reader.read(5)?.toString(), 'hello');
    assert.equal(reader.read(6)?.toString(), ' world');
    assert.equal(reader.buffered, 0);
  });

  it('splits one merged chunk into successive exact reads', () => {
    const reader = new ByteReader();
    reader.push(Buffer.from('800=====-----BEGIN'));
    assert.equal(reader.read(8)?.toString(), '800=====');
    assert.equal(reader.read(10)?.toString(), '-----BEGIN');
    assert.equal(reader.read(1), undefined);
  });

  it('yields an empty buffer for a zero-length read and ignores empty chunks', () => {
    const reader = new ByteReader();
    reader.push(Buffer.alloc(0));
    assert.equal(reader.read(0)?.length, 0);
    assert.equal(reader.buffered, 0);
  });
});
