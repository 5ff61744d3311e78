// The columnar view (decodeColumns / RecordColumns, batch.records,
// Log#readRecords) against the records that were encoded and against the
// object API, on random batches: compressed or not, null keys and values,
// headers, control batches, offset gaps (compacted ranges) and reads that
// start inside a batch (deleted ranges).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompressionTypes,
  compressRecords,
  decodeColumns,
  decodeMessages,
  encodeBatch,
  encodeRecords,
  frameBatch,
  Kafka,
  Log,
  type RecordColumns,
} from '../ts';
import { tempDir, until } from './helpers';

const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const rec = fc.record({
  key: fc.oneof(fc.constant(null), bytes),
  value: fc.oneof(fc.constant(null), bytes),
  headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.oneof(fc.constant(null), bytes), {
    maxKeys: 3,
  }),
  dt: fc.integer({ min: 0, max: 10 ** 6 }),
});
type Rec = { key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | null>; dt: number };

const batchArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      control: fc.constant(false),
      records: fc.array(rec, { minLength: 1, maxLength: 12 }),
      compression: fc.constantFrom(
        CompressionTypes.None,
        CompressionTypes.GZIP,
        CompressionTypes.Snappy,
        CompressionTypes.LZ4,
        CompressionTypes.ZSTD,
      ),
      gap: fc.integer({ min: 0, max: 5 }),
      logAppendTime: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      control: fc.constant(true),
      records: fc.constant([] as Rec[]),
      compression: fc.constant(CompressionTypes.None),
      gap: fc.integer({ min: 0, max: 5 }),
      logAppendTime: fc.constant(false),
    }),
  },
);

const BASE_TS = 1_700_000_000_000;

interface Expected {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null>;
}

/** Batches back to back, each at its base offset, and the records a reader must see. */
interface GenBatch {
  control: boolean;
  records: Rec[];
  compression: CompressionTypes;
  gap: number;
  logAppendTime: boolean;
}

function build(batches: GenBatch[]): { chunk: Buffer; expected: Expected[] } {
  const parts: Buffer[] = [];
  const expected: Expected[] = [];
  let next = 0;
  for (const b of batches) {
    const base = next + b.gap;
    let batch: Buffer;
    let count: number;
    if (b.control) {
      // A transaction marker: key = version 0, type 1 (COMMIT).
      batch = encodeBatch([{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.alloc(6), timestamp: BASE_TS }], {
        attributes: 0x30,
        producerId: 7,
        producerEpoch: 0,
      });
      count = 1;
    } else {
      const inputs = b.records.map((r) => ({
        key: r.key,
        value: r.value,
        headers: r.headers as Record<string, Buffer>,
        timestamp: BASE_TS + r.dt,
      }));
      const attributes = b.compression | (b.logAppendTime ? 0x08 : 0);
      if (b.compression === CompressionTypes.None) {
        batch = encodeBatch(inputs, { attributes });
      } else {
        const e = encodeRecords(inputs, 0);
        const body = compressRecords(b.compression, e.buf.subarray(e.headroom)) as Buffer;
        batch = frameBatch(body, e.count, e.baseTimestamp, e.maxTimestamp, { attributes });
      }
      count = inputs.length;
      const maxTs = Math.max(...inputs.map((r) => r.timestamp));
      b.records.forEach((r, i) => {
        expected.push({
          offset: base + i,
          timestamp: b.logAppendTime ? maxTs : BASE_TS + r.dt,
          key: r.key,
          value: r.value,
          headers: r.headers,
        });
      });
    }
    batch.writeBigInt64BE(BigInt(base), 0);
    parts.push(batch);
    next = base + count;
  }
  return { chunk: Buffer.concat(parts), expected };
}

function slice(cols: RecordColumns, start: number, len: number): Buffer | null {
  return len < 0 ? null : Buffer.from(cols.buffer.subarray(start, start + len));
}

function check(cols: RecordColumns, expected: Expected[]): void {
  expect(cols.length).toBe(expected.length);
  const messages = decodeMessagesFrom(cols);
  expected.forEach((e, i) => {
    expect(cols.offsets[i]).toBe(e.offset);
    expect(cols.timestamps[i]).toBe(e.timestamp);
    expect(slice(cols, cols.keyStarts[i] as number, cols.keyLengths[i] as number)).toEqual(e.key);
    expect(slice(cols, cols.valueStarts[i] as number, cols.valueLengths[i] as number)).toEqual(e.value);
    expect(cols.headerCounts[i]).toBe(Object.keys(e.headers).length);
    const h = cols.headers(i);
    expect(Object.keys(h).sort()).toEqual(Object.keys(e.headers).sort());
    for (const [k, v] of Object.entries(e.headers))
      expect(h[k] === null ? null : Buffer.from(h[k] as Buffer)).toEqual(v);
    // The object API says the same.
    const m = messages[i];
    expect(m?.offset).toBe(String(e.offset));
    expect(m?.timestamp).toBe(String(e.timestamp));
    expect(m?.key === null ? null : Buffer.from(m?.key as Buffer)).toEqual(e.key);
    expect(m?.value === null ? null : Buffer.from(m?.value as Buffer)).toEqual(e.value);
  });
}

let lastChunk: { chunk: Buffer; from: number } = { chunk: Buffer.alloc(0), from: 0 };
function decodeMessagesFrom(_cols: RecordColumns) {
  return decodeMessages(lastChunk.chunk, lastChunk.from);
}

describe('columnar records', () => {
  it('match the encoded records and the message objects on random batches', () => {
    fc.assert(
      fc.property(fc.array(batchArb, { minLength: 1, maxLength: 6 }), fc.nat(), (batches, pick) => {
        const { chunk, expected } = build(batches);
        // Start anywhere from before the first record to past the last.
        const last = expected.length === 0 ? 0 : (expected[expected.length - 1] as Expected).offset + 2;
        const from = pick % (last + 1);
        lastChunk = { chunk, from };
        const cols = decodeColumns(chunk, from);
        check(
          cols,
          expected.filter((e) => e.offset >= from),
        );
        // A budget stops after the batch that reaches it: a prefix, never a gap.
        const budgeted = decodeColumns(chunk, from, 1);
        const want = expected.filter((e) => e.offset >= from);
        expect(budgeted.length).toBeLessThanOrEqual(want.length);
        expect(Array.from(budgeted.offsets)).toEqual(want.slice(0, budgeted.length).map((e) => e.offset));
        if (want.length > 0) expect(budgeted.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it('share the fetched bytes when nothing is compressed', () => {
    const chunk = encodeBatch([
      { key: 'k', value: 'v1', timestamp: 1 },
      { key: null, value: null, timestamp: 2 },
    ]);
    const cols = decodeColumns(chunk);
    expect(cols.buffer.buffer).toBe(chunk.buffer);
    expect(cols.value(1)).toBeNull();
    expect(cols.key(0)?.toString()).toBe('k');
    expect(() => cols.value(2)).toThrow(RangeError);
  });

  it('are read by Log#readRecords and offered as batch.records to eachBatch', async () => {
    const dir = tempDir();
    const log = Log.open(dir);
    log.createTopic('cols', { partitions: 1 });
    for (let i = 0; i < 5; i++)
      log.append(
        'cols',
        0,
        encodeBatch(Array.from({ length: 10 }, (_, j) => ({ value: `v${i * 10 + j}`, timestamp: 1 + j }))),
      );
    const r = log.readRecords('cols', 0, 13);
    expect(r.records.offsets[0]).toBe(13);
    expect(r.highWatermark).toBe(50);
    expect(r.records.value(0)?.toString()).toBe('v13');
    await log.close();

    const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
    const consumer = kafka.consumer({ groupId: 'cols' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'cols', fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const cols = batch.records;
        for (let i = 0; i < cols.length; i++) {
          const s = cols.valueStarts[i] as number;
          seen.push(cols.buffer.toString('utf8', s, s + (cols.valueLengths[i] as number)));
        }
      },
    });
    await until(() => seen.length === 50, 'every record through batch.records');
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => `v${i}`));
    await consumer.disconnect();
    // Committed as with messages: the next consumer of the group starts at the end.
    const admin = kafka.admin();
    await admin.connect();
    expect((await admin.fetchOffsets({ groupId: 'cols', topics: ['cols'] }))[0]?.partitions[0]?.offset).toBe(
      '50',
    );
    await admin.disconnect();
  });
});
