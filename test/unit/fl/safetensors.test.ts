import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, tensorToFloat32 } from '../../../src/fl/model/safetensors.js';
import { decodeModelFile, encodeModelFile } from '../../../src/fl/model/model-file.js';

/** Builds a file from a literal header object and a data section. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

const numpyAvailable = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

describe('safetensors', () => {
  it('round-trips tensors and metadata', () => {
    const a = Float32Array.from([1.5, -2, 3.25, 0, 7, 8]);
    const buf = encodeSafetensors({ a: { shape: [2, 3], data: a }, b: { shape: [1], data: Float32Array.from([42]) } }, { round: '3' });
    const file = decodeSafetensors(buf);
    assert.deepEqual(file.metadata, { round: '3' });
    assert.deepEqual(file.tensors.get('a')!.shape, [2, 3]);
    assert.deepEqual(Array.from(tensorToFloat32(file, 'a', [2, 3])), Array.from(a));
    assert.deepEqual(Array.from(tensorToFloat32(file, 'b')), [42]);
  });

  it('writes the layout of the format: u64 LE header length, JSON header, 8-byte aligned data', () => {
    const buf = encodeSafetensors({ x: { shape: [2], data: Float32Array.from([1, 2]) } });
    const n = Number(buf.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString());
    assert.deepEqual(header, { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
    assert.equal(buf.readFloatLE(8 + n + 4), 2);
  });

  it('refuses a file shorter than the header length field', () => {
    assert.throws(() => decodeSafetensors(Buffer.alloc(5)), (e) => e instanceof SafetensorsError && /shorter than the 8-byte header length/.test(e.message));
  });

  it('refuses a header length larger than the file', () => {
    assert.throws(() => decodeSafetensors(rawFile({}, new Uint8Array(0), 1000n)), /header length 1000 exceeds/);
    assert.throws(() => decodeSafetensors(rawFile({}, new Uint8Array(0), 2n ** 63n)), /exceeds/);
  });

  it('refuses a header that is not JSON', () => {
    const buf = Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{abc')]);
    assert.throws(() => decodeSafetensors(buf), /header is not UTF-8 JSON/);
  });

  it('refuses overlapping data offsets', () => {
    const h = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } };
    assert.throws(() => decodeSafetensors(rawFile(h, new Uint8Array(12))), /overlaps/);
  });

  it('refuses a hole between tensors', () => {
    const h = { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } };
    assert.throws(() => decodeSafetensors(rawFile(h, new Uint8Array(12))), /hole/);
  });

  it('refuses an unknown dtype', () => {
    const h = { a: { dtype: 'F24', shape: [1], data_offsets: [0, 3] } };
    assert.throws(() => decodeSafetensors(rawFile(h, new Uint8Array(3))), /unknown dtype "F24"/);
  });

  it('refuses a dtype other than F32 where a float tensor is read', () => {
    const h = { a: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } };
    const file = decodeSafetensors(rawFile(h, new Uint8Array(4)));
    assert.throws(() => tensorToFloat32(file, 'a'), /dtype I32, expected F32/);
  });

  it('refuses a shape that does not match the byte span', () => {
    const h = { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } };
    assert.throws(() => decodeSafetensors(rawFile(h, new Uint8Array(8))), /spans 8 bytes but F32 \[3\] needs 12/);
  });

  it('refuses truncated data', () => {
    const good = encodeSafetensors({ a: { shape: [4], data: new Float32Array(4) } });
    assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 3)), /truncated/);
  });

  it('refuses trailing bytes after the last tensor', () => {
    const good = encodeSafetensors({ a: { shape: [1], data: new Float32Array(1) } });
    assert.throws(() => decodeSafetensors(Buffer.concat([good, Buffer.alloc(4)])), /tensors cover 4/);
  });

  it('refuses non-string metadata values', () => {
    assert.throws(() => decodeSafetensors(rawFile({ __metadata__: { round: 3 } })), /__metadata__.round is not a string/);
  });

  it('model files refuse an architecture other than the expected one', () => {
    const spec = { kind: 'logreg' as const, inputs: 2, classes: 3, hidden: 0 };
    const buf = encodeModelFile({ spec, params: new Float32Array(9), standardizer: { mean: new Float32Array(2), scale: new Float32Array(2).fill(1) }, metadata: { round: '1' } });
    assert.equal(decodeModelFile(buf, spec).metadata.round, '1');
    assert.throws(() => decodeModelFile(buf, { ...spec, classes: 4 }), /model is logreg 2→3, expected logreg 2→4/);
  });

  it('model files refuse NaN weights', () => {
    const spec = { kind: 'logreg' as const, inputs: 1, classes: 2, hidden: 0 };
    const params = Float32Array.from([0, NaN, 0, 0]);
    const buf = encodeModelFile({ spec, params, standardizer: { mean: new Float32Array(1), scale: new Float32Array(1) }, metadata: {} });
    assert.throws(() => decodeModelFile(buf, spec), /non-finite/);
  });

  it('numpy reads the tensors we write', { skip: numpyAvailable ? false : 'python3 with numpy is not installed' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    try {
      const path = join(dir, 'm.safetensors');
      writeFileSync(path, encodeSafetensors({ w: { shape: [2, 2], data: Float32Array.from([1, 2.5, -3, 4]) } }, { k: 'v' }));
      // A minimal reader after the format description, independent of our decoder.
      const script = [
        'import json, struct, sys, numpy as np',
        'b = open(sys.argv[1], "rb").read()',
        'n = struct.unpack("<Q", b[:8])[0]',
        'h = json.loads(b[8:8+n])',
        't = h["w"]; s, e = t["data_offsets"]',
        'a = np.frombuffer(b[8+n+s:8+n+e], dtype="<f4").reshape(t["shape"])',
        'print(json.dumps({"meta": h["__metadata__"], "values": a.tolist(), "sum": float(a.sum())}))',
      ].join('\n');
      const out = JSON.parse(execFileSync('python3', ['-c', script, path]).toString());
      assert.deepEqual(out, { meta: { k: 'v' }, values: [[1, 2.5], [-3, 4]], sum: 4.5 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
