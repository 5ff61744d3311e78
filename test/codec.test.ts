import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CorruptDataError,
  decodeMessages,
  encodeBatch,
  InvalidArgumentError,
  InvalidBatchError,
  Log,
  type RecordInput,
} from '../ts';
import { tempDir } from './helpers';

// kafkajs 2.2.4's own encoder and decoder: an independent implementation.
const KafkaRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: object) => {
  buffer: Buffer;
};
const KafkaRecordBatch = (
  require('kafkajs/src/protocol/recordBatch/v0') as {
    RecordBatch: (b: object) => Promise<{ buffer: Buffer }>;
  }
).RecordBatch;
const kafkaDecodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: object) => Promise<{
  firstOffset: string;
  records: {
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer | Buffer[]>;
    offset: string;
    timestamp: string;
  }[];
}>;
const KafkaDecoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => object;
const Long = require('kafkajs/src/utils/long') as { fromValue(v: number): unknown };

const bytes = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
const text = fc.string({ maxLength: 32, unit: 'grapheme' });
const headerValue = fc.oneof(text, bytes);
const record = fc.record({
  key: fc.oneof(fc.constant(null), text, bytes),
  value: fc.oneof(fc.constant(null), text, bytes),
  headers: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.oneof(headerValue, fc.array(headerValue, { minLength: 1, maxLength: 3 })),
    { maxKeys: 3 },
  ),
  dt: fc.integer({ min: -100000, max: 10 ** 10 }),
});

function toBuf(v: Buffer | string | null): Buffer | null {
  return v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
}

type GeneratedRecord = {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers: Record<string, Buffer | string | (Buffer | string)[]>;
  dt: number;
};

function inputs(rs: GeneratedRecord[]): RecordInput[] {
  const base = 1_700_000_000_000;
  return rs.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: base + r.dt }));
}

function expectHeaders(
  actual: Record<string, unknown>,
  expected: Record<string, Buffer | string | (Buffer | string)[]>,
): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [k, v] of Object.entries(expected)) {
    const a = actual[k];
    if (Array.isArray(v) && v.length > 1) {
      expect((a as Buffer[]).map((x) => Buffer.from(x))).toEqual(v.map((x) => toBuf(x)));
    } else {
      const one = Array.isArray(v) ? v[0] : v;
      expect(Buffer.from(a as Buffer)).toEqual(toBuf(one as Buffer | string));
    }
  }
}

describe('RecordBatch v2 codec', () => {
  it('round-trips any records through encode and lazy decode', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 20 }), (rs) => {
        const ins = inputs(rs);
        const msgs = decodeMessages(encodeBatch(ins));
        expect(msgs.length).toBe(ins.length);
        msgs.forEach((m, i) => {
          const r = ins[i] as RecordInput;
          expect(m.offset).toBe(String(i));
          expect(m.timestamp).toBe(String(r.timestamp));
          expect(m.key === null ? null : Buffer.from(m.key)).toEqual(
            toBuf((r.key ?? null) as Buffer | string | null),
          );
          expect(m.value === null ? null : Buffer.from(m.value)).toEqual(
            toBuf(r.value as Buffer | string | null),
          );
          expectHeaders(m.headers, (r.headers ?? {}) as Record<string, Buffer | string>);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('writes the same bytes as kafkajs 2.2.4 for the same records', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 10 }), async (rs) => {
        const ins = inputs(rs);
        const ours = encodeBatch(ins);
        const base = (ins[0] as RecordInput).timestamp;
        const theirs = await KafkaRecordBatch({
          firstOffset: Long.fromValue(0),
          firstTimestamp: base,
          maxTimestamp: Math.max(...ins.map((r) => r.timestamp)),
          lastOffsetDelta: ins.length - 1,
          producerId: Long.fromValue(-1),
          producerEpoch: -1,
          firstSequence: -1,
          records: ins.map((r, i) =>
            KafkaRecord({
              offsetDelta: i,
              timestampDelta: Long.fromValue(r.timestamp - base),
              key: toBuf((r.key ?? null) as Buffer | string | null),
              value: toBuf(r.value as Buffer | string | null),
              headers: r.headers,
            }),
          ),
        });
        expect(Buffer.compare(ours, theirs.buffer)).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('decodes what kafkajs encoded, after a trip through the log', async () => {
    const log = Log.open(tempDir());
    log.createTopic('t');
    const headers = { 'correlation-id': '12345', dup: ['a', 'b'] };
    const batch = await KafkaRecordBatch({
      firstOffset: Long.fromValue(0),
      firstTimestamp: 1000,
      maxTimestamp: 1002,
      lastOffsetDelta: 2,
      producerId: Long.fromValue(-1),
      producerEpoch: -1,
      firstSequence: -1,
      records: [
        KafkaRecord({
          offsetDelta: 0,
          timestampDelta: Long.fromValue(0),
          key: Buffer.from('k1'),
          value: Buffer.from('héllo ☃'),
          headers,
        }),
        KafkaRecord({ offsetDelta: 1, timestampDelta: Long.fromValue(1), key: null, value: Buffer.alloc(0) }),
        KafkaRecord({
          offsetDelta: 2,
          timestampDelta: Long.fromValue(2),
          key: Buffer.from('k3'),
          value: null,
        }),
      ],
    });
    log.append('t', 0, batch.buffer);
    log.append('t', 0, batch.buffer);
    const msgs = decodeMessages(log.read('t', 0, 0).batches);
    expect(msgs.map((m) => m.offset)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(msgs[0]?.value?.toString()).toBe('héllo ☃');
    expect(msgs[0]?.headers['correlation-id']?.toString()).toBe('12345');
    expect((msgs[0]?.headers.dup as Buffer[]).map(String)).toEqual(['a', 'b']);
    expect(msgs[1]?.key).toBeNull();
    expect(msgs[1]?.value?.length).toBe(0);
    expect(msgs[5]?.value).toBeNull();
    expect(msgs[4]?.timestamp).toBe('1001');
    await log.close();
  });

  it('reads real broker batches from kafkajs test data, and rejects an inconsistent one', async () => {
    const fixture = (name: string) =>
      Buffer.from((require(`./fixtures/${name}.json`) as { data: number[] }).data);
    const gzip = fixture('kafkajs-recordbatch-gzip');
    const [m] = decodeMessages(gzip);
    expect(m?.offset).toBe('0');
    expect(m?.key?.toString()).toBe('key-0');
    expect(m?.value?.toString()).toBe('value-0-2020-08-14T17:13:08.682Z');
    // LogAppendTime: every record carries the batch's max timestamp.
    expect(m?.timestamp).toBe('1597425188809');
    const log = Log.open(tempDir());
    log.createTopic('t');
    log.append('t', 0, gzip);
    log.append('t', 0, gzip);
    const back = decodeMessages(log.read('t', 0, 0).batches);
    expect(back.map((x) => [x.offset, String(x.value)])).toEqual([
      ['0', 'value-0-2020-08-14T17:13:08.682Z'],
      ['1', 'value-0-2020-08-14T17:13:08.682Z'],
    ]);
    const odd = fixture('kafkajs-recordbatch-zstd');
    expect(() => log.append('t', 0, odd)).toThrow(InvalidBatchError);
    expect(() => decodeMessages(odd)).toThrow(CorruptDataError);
    expect(log.watermarks('t', 0).highWatermark).toBe(2);
    await log.close();
  });

  it('is decoded by kafkajs after the log assigns offsets', async () => {
    const log = Log.open(tempDir());
    log.createTopic('t');
    log.append('t', 0, encodeBatch([{ value: 'first', timestamp: 5 }]));
    log.append(
      't',
      0,
      encodeBatch([
        { key: 'k', value: 'ünïcode', headers: { h: ['1', '2'] }, timestamp: 7 },
        { key: null, value: '', timestamp: 9 },
      ]),
    );
    const chunk = log.read('t', 0, 1).batches;
    const decoded = await kafkaDecodeBatch(new KafkaDecoder(chunk));
    expect(decoded.firstOffset).toBe('1');
    expect(decoded.records.map((r) => r.offset)).toEqual(['1', '2']);
    expect(decoded.records[0]?.value?.toString()).toBe('ünïcode');
    expect((decoded.records[0]?.headers.h as Buffer[]).map(String)).toEqual(['1', '2']);
    expect(decoded.records[1]?.timestamp).toBe('9');
    await log.close();
  });

  it('treats header keys named like Object.prototype members as plain headers', () => {
    const [m] = decodeMessages(
      encodeBatch([
        {
          value: 'v',
          headers: { valueOf: 'a', __proto__: 'b', constructor: ['c', 'd'] } as never,
          timestamp: 1,
        },
      ]),
    );
    expect(m?.headers.valueOf?.toString()).toBe('a');
    expect(Object.getPrototypeOf(m?.headers)).toBe(Object.prototype);
    expect((m?.headers.constructor as unknown as Buffer[]).map(String)).toEqual(['c', 'd']);
  });

  it('rejects values of the wrong type with a typed error naming the message', () => {
    expect(() =>
      encodeBatch([
        { value: 'ok', timestamp: 1 },
        { value: 42 as unknown as string, timestamp: 1 },
      ]),
    ).toThrow(/message 1: value/);
    expect(() => encodeBatch([{ value: 'x', headers: { h: 5 as unknown as string }, timestamp: 1 }])).toThrow(
      InvalidArgumentError,
    );
    expect(() => encodeBatch([])).toThrow(InvalidArgumentError);
    expect(() => encodeBatch([{ value: 'x', timestamp: Number.NaN }])).toThrow(/timestamp/);
  });

  it('reports malformed bytes as CorruptDataError, never a crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (garbage, flip) => {
        const good = encodeBatch([{ key: 'k', value: 'v', headers: { a: 'b' }, timestamp: 1 }]);
        const bad = Buffer.from(good);
        bad[flip % bad.length] ^= 0xff;
        for (const input of [Buffer.from(garbage), bad]) {
          try {
            decodeMessages(input);
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
            expect(e).toBeInstanceOf(CorruptDataError);
          }
        }
      }),
    );
    expect(() => decodeMessages(Buffer.alloc(10))).toThrow(CorruptDataError);
    // A record count no batch of this size could hold is refused before
    // anything is allocated for it.
    const huge = encodeBatch([{ value: 'x', timestamp: 1 }]);
    huge.writeInt32BE(0x7fffffff, 57);
    expect(() => decodeMessages(huge)).toThrow(/claims 2147483647 records/);
  });
});
