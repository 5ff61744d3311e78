// The decoder reads one- and two-byte varints (record length, value length)
// inline and only longer ones through readVarint: keys and values of every
// length around those boundaries decode as encoded, and a length that runs
// past its record or batch is corruption, whichever path reads it.
import { describe, expect, it } from 'vitest';
import { CompressionTypes, decodeColumns, decodeMessages, encodeBatch, type RecordInput } from '../ts';
import { CorruptDataError } from '../ts/errors';
import { compressedBatch } from './helpers';

// Zig-zag: 0-63 take one byte, 64-8191 two, 8192 and up three or more.
const SIZES = [0, 1, 63, 64, 65, 100, 127, 128, 1000, 8191, 8192, 20_000];

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('decoder varints at one-, two- and three-byte lengths', () => {
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
    it(`keys and values of every size decode as encoded (compression ${compression})`, () => {
      const records: (RecordInput & { key: Buffer | null; value: Buffer | null; timestamp: number })[] = [];
      for (const k of [null, ...SIZES])
        for (const v of [null, ...SIZES])
          records.push({
            key: k === null ? null : bytes(k, 1),
            value: v === null ? null : bytes(v, 2),
            timestamp: 1000 + records.length * 70,
            headers: v === 100 ? { h: bytes(70, 3) } : undefined,
          });
      const chunk = compressedBatch(records, compression);
      // The compressed case really is compressed (its records are inflated first).
      expect(chunk.readInt16BE(21) & 7).toBe(compression);
      const msgs = decodeMessages(chunk);
      expect(msgs).toHaveLength(records.length);
      msgs.forEach((m, i) => {
        const r = records[i] as (typeof records)[number];
        const h = r.headers as Record<string, Buffer> | undefined;
        expect(m.key === null ? null : Buffer.from(m.key)).toEqual(r.key);
        expect(m.value === null ? null : Buffer.from(m.value)).toEqual(r.value);
        expect(m.timestampMs).toBe(r.timestamp);
        expect(m.offsetNumber).toBe(i);
        if (h !== undefined) expect(Buffer.from(m.headers.h as Buffer)).toEqual(h.h);
      });
    });
  }

  it('a two-byte record length past the batch end is corruption', () => {
    const chunk = encodeBatch([{ key: null, value: bytes(100, 0), timestamp: 1 }]);
    // The record starts right after the 61-byte header; its length (zig-zag
    // of ~106) takes two bytes. Claim 8000 bytes instead: still two bytes.
    const pos = 61;
    expect(chunk[pos] as number).toBeGreaterThanOrEqual(0x80);
    expect(chunk[pos + 1] as number).toBeLessThan(0x80);
    const bad = Buffer.from(chunk);
    const z = 8000 * 2;
    bad[pos] = (z & 0x7f) | 0x80;
    bad[pos + 1] = z >>> 7;
    expect(() => decodeColumns(bad)).toThrow(CorruptDataError);
  });

  it('a two-byte value length past the record end is corruption', () => {
    const chunk = encodeBatch([{ key: null, value: bytes(100, 0), timestamp: 1 }]);
    // length (2 bytes), attributes, timestamp delta, offset delta, key length (-1): the value length follows.
    const at = 61 + 2 + 1 + 1 + 1 + 1;
    expect(chunk[at] as number).toBeGreaterThanOrEqual(0x80);
    const bad = Buffer.from(chunk);
    const z = 120 * 2;
    bad[at] = (z & 0x7f) | 0x80;
    bad[at + 1] = z >>> 7;
    expect(() => decodeColumns(bad)).toThrow(CorruptDataError);
  });
});
