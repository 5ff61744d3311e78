/**
 * The producer's encode path as properties: records staged as columns
 * (ts/producer/queue.ts), encoded by `encodeColumns` and framed by
 * `writeHeaderFields`, must decode back to exactly what was sent, byte for
 * byte, by two decoders that share no code with the encoder (ferrolog's
 * ts/codec/decoder.ts and kafkajs 2.2.4's own), and must pass the engine's
 * append-time validation and its offline verifier (`Log.verify`, every
 * batch CRC-checked). A wrong varint, length, CRC or header byte fails here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompressionTypes, Kafka, Log, logLevel } from '../ts';
import { decodeMessages, readBatches } from '../ts/codec/decoder';
import { encodeColumns, encodeRecords, type IHeaders, writeHeaderFields } from '../ts/codec/encoder';
import { HEADER_BYTES } from '../ts/codec/format';
import { legacyMurmur2, murmur2 } from '../ts/producer/partitioners';
import { tempDir } from './helpers';

const kafkaDecodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: object) => Promise<{
  records: {
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer | Buffer[]>;
    offset: string;
    timestamp: string;
  }[];
}>;
const KafkaDecoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => object;

type Bytes = Buffer | string | null;
type HeaderIn = Buffer | string | null | (Buffer | string)[];

const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
// Graphemes reach multi-byte UTF-8, where string length and byte length differ.
const text = fc.string({ maxLength: 40, unit: 'grapheme' });
const nullable = fc.oneof(fc.constant(null), text, bytes);
const headerValue = fc.oneof(text, bytes);
const headers = fc.option(
  fc.dictionary(
    fc.string({ minLength: 1, maxLength: 6, unit: 'grapheme' }),
    fc.oneof(
      headerValue,
      fc.constant(null),
      fc.array(headerValue, { minLength: 1, maxLength: 3 }),
    ) as fc.Arbitrary<HeaderIn>,
    { maxKeys: 3 },
  ),
  { nil: undefined },
);
const BASE = 1_700_000_000_000;
// Deltas either way from the first record, small (one-byte varints) and large.
const delta = fc.oneof(fc.integer({ min: 0, max: 63 }), fc.integer({ min: -(10 ** 9), max: 10 ** 11 }));

const toBuf = (v: Bytes | undefined): Buffer | null =>
  v === null || v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');

/** Headers as the decoders give them back: one Buffer (or null) per key, an array for repeats. */
function expectedHeaders(h: Record<string, HeaderIn> | undefined): Record<string, Buffer | null | Buffer[]> {
  const out: Record<string, Buffer | null | Buffer[]> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (Array.isArray(v)) {
      const bs = v.map((x) => toBuf(x) as Buffer);
      out[k] = bs.length === 1 ? (bs[0] as Buffer) : bs;
    } else out[k] = toBuf(v);
  }
  return out;
}

function normalHeaders(h: Record<string, unknown>): Record<string, Buffer | null | Buffer[]> {
  const out: Record<string, Buffer | null | Buffer[]> = {};
  for (const [k, v] of Object.entries(h)) {
    out[k] = Array.isArray(v) ? v.map((x) => Buffer.from(x)) : v === null ? null : Buffer.from(v as Buffer);
  }
  return out;
}

const record = fc.record({ key: nullable, value: nullable, headers, dt: delta });
type Rec = { key: Bytes; value: Bytes; headers: Record<string, HeaderIn> | undefined; dt: number };

describe('the producer encode path (columns → RecordBatch v2)', () => {
  it('encodes any records, any range of the columns and any header fields so that two independent decoders read them back', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { minLength: 1, maxLength: 30 }),
        fc.nat(),
        fc.nat(),
        fc.record({
          // Any codec number the attributes may carry (the records here are not compressed:
          // only uncompressed bytes are decodable, so the codec bits are checked, then cleared).
          attributes: fc.constantFrom(0, 0x08, 3),
          producerId: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
          producerEpoch: fc.integer({ min: -1, max: 32767 }),
          baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
        }),
        async (rs: Rec[], a, b, fields) => {
          // A range [from, to) of the columns, as the sender's batch split takes them.
          const from = a % rs.length;
          const to = from + 1 + (b % (rs.length - from));
          const cols = {
            keys: rs.map((r) => r.key),
            values: rs.map((r) => r.value),
            headers: rs.map((r) => r.headers as IHeaders | undefined),
            timestamps: rs.map((r) => BASE + r.dt),
          };
          const enc = encodeColumns(cols, HEADER_BYTES, from, to);
          const slice = rs.slice(from, to);
          // The object-per-record entry point writes the same bytes.
          const viaRecords = encodeRecords(
            slice.map((r) => ({
              key: r.key,
              value: r.value,
              headers: r.headers as IHeaders,
              timestamp: BASE + r.dt,
            })),
            HEADER_BYTES,
          );
          expect(viaRecords.buf.subarray(HEADER_BYTES)).toEqual(enc.buf.subarray(HEADER_BYTES));
          const batch = writeHeaderFields(
            enc.buf,
            enc.count,
            enc.baseTimestamp,
            enc.maxTimestamp,
            fields.attributes,
            fields.producerId,
            fields.producerEpoch,
            fields.baseSequence,
          );
          const [info] = readBatches(batch);
          expect(info).toMatchObject({
            sizeBytes: batch.byteLength,
            baseOffset: 0,
            lastOffset: slice.length - 1,
            recordCount: slice.length,
            attributes: fields.attributes,
            baseTimestamp: BASE + (slice[0] as Rec).dt,
            maxTimestamp: Math.max(...slice.map((r) => BASE + r.dt)),
            producerId: fields.producerId,
            producerEpoch: fields.producerEpoch,
            baseSequence: fields.baseSequence,
          });
          // Decode as uncompressed (header rewritten with attributes 0, CRC redone).
          const plain = writeHeaderFields(
            Buffer.from(batch),
            enc.count,
            enc.baseTimestamp,
            enc.maxTimestamp,
            0,
            fields.producerId,
            fields.producerEpoch,
            fields.baseSequence,
          );
          const ours = decodeMessages(plain);
          const theirs = (await kafkaDecodeBatch(new KafkaDecoder(plain))).records;
          expect(ours).toHaveLength(slice.length);
          expect(theirs).toHaveLength(slice.length);
          slice.forEach((r, i) => {
            for (const m of [ours[i], theirs[i]] as {
              key: unknown;
              value: unknown;
              timestamp: string;
              offset: string;
              headers: Record<string, unknown>;
            }[]) {
              expect(m.offset).toBe(String(i));
              expect(m.timestamp).toBe(String(BASE + r.dt));
              expect(m.key === null ? null : Buffer.from(m.key as Buffer)).toEqual(toBuf(r.key));
              expect(m.value === null ? null : Buffer.from(m.value as Buffer)).toEqual(toBuf(r.value));
              expect(normalHeaders(m.headers)).toEqual(expectedHeaders(r.headers));
            }
          });
          // The engine takes the batch: its append validates the CRC and every record's framing.
          const dir = tempDir();
          const log = Log.open(dir);
          try {
            log.createTopic('t', { partitions: 1 });
            expect(log.append('t', 0, plain)).toBe(0);
          } finally {
            await log.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a wrong byte anywhere in an encoded batch is refused by the engine (the property above can fail)', async () => {
    const enc = encodeColumns(
      { keys: ['k'], values: [Buffer.from('value')], headers: [{ h: 'v' }], timestamps: [BASE] },
      HEADER_BYTES,
      0,
      1,
    );
    const good = writeHeaderFields(enc.buf, 1, BASE, BASE, 0, -1, -1, -1);
    const dir = tempDir();
    const log = Log.open(dir);
    try {
      log.createTopic('t', { partitions: 1 });
      // Every byte the CRC covers, flipped, is caught.
      for (let at = 21; at < good.byteLength; at++) {
        const bad = Buffer.from(good);
        bad[at] = (bad[at] as number) ^ 0x01;
        expect(() => log.append('t', 0, bad), `byte ${at}`).toThrow();
      }
      expect(log.append('t', 0, good)).toBe(0);
    } finally {
      await log.close();
    }
  });

  it('sends of any messages, codecs, batch sizes and idempotence land exactly as sent, and the verifier finds every batch sound', async () => {
    const message = fc.record({
      key: nullable,
      value: nullable,
      headers,
      partition: fc.integer({ min: 0, max: 2 }),
      // Explicit timestamps, as numbers or kafkajs' strings; or none (the send's time).
      timestamp: fc.option(
        fc.oneof(fc.integer({ min: 0, max: 2 * BASE }), fc.integer({ min: 0, max: 2 * BASE }).map(String)),
        { nil: undefined },
      ),
    });
    const send = fc.record({
      messages: fc.array(message, { minLength: 1, maxLength: 25 }),
      compression: fc.constantFrom(
        CompressionTypes.None,
        CompressionTypes.GZIP,
        CompressionTypes.Snappy,
        CompressionTypes.LZ4,
        CompressionTypes.ZSTD,
      ),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(send, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        // Small batch sizes split a queue into several batches.
        fc.constantFrom(200, 2000, 1 << 20),
        async (sends, idempotent, batchSize) => {
          const dataDir = tempDir();
          const kafka = new Kafka({ dataDir, defaultNumPartitions: 3, logLevel: logLevel.NOTHING });
          const producer = kafka.producer({ idempotent, batch: { size: batchSize } });
          await producer.connect();
          const before = Date.now();
          // All in one tick: the accumulator gathers them, queues reuse their columns across flushes.
          const results = await Promise.all(
            sends.map((s) =>
              producer.send({
                topic: 't',
                compression: s.compression,
                acks: -1,
                messages: s.messages.map((m) => ({
                  key: m.key,
                  value: m.value,
                  partition: m.partition,
                  ...(m.headers === undefined ? {} : { headers: m.headers as IHeaders }),
                  ...(m.timestamp === undefined ? {} : { timestamp: m.timestamp as string }),
                })),
              }),
            ),
          );
          // And a second round after the first flushed (recycled arrays, now non-empty capacity).
          const again = await producer.send({
            topic: 't',
            messages: sends[0]?.messages.map((m) => ({ value: m.value, partition: m.partition })) ?? [],
          });
          const after = Date.now();
          await producer.disconnect();
          expect(results.every((r) => r.every((x) => x.errorCode === 0))).toBe(true);
          expect(again.length).toBeGreaterThan(0);

          // Queues are per partition and codec: records keep their order
          // within one (partition, codec); queues of different codecs leave
          // as batches of their own, in either order.
          type Sent = {
            key: Bytes;
            value: Bytes;
            headers?: Record<string, HeaderIn>;
            timestamp?: number | string;
          };
          const expected = new Map<string, Sent[]>();
          const expect_ = (p: number, codec: number, m: Sent) => {
            const k = `${p}/${codec}`;
            if (!expected.has(k)) expected.set(k, []);
            expected.get(k)?.push(m);
          };
          for (const s of sends) for (const m of s.messages) expect_(m.partition, s.compression, m);
          for (const m of sends[0]?.messages ?? [])
            expect_(m.partition, CompressionTypes.None, { key: null, value: m.value });

          const log = Log.open(dataDir);
          const got = new Map<string, ReturnType<typeof decodeMessages>>();
          try {
            for (let p = 0; p < 3; p++) {
              // A read stops at a segment's end: read on to the high watermark.
              const hw = log.watermarks('t', p).highWatermark;
              let offset = 0;
              while (offset < hw) {
                const r = log.read('t', p, offset, 64 << 20);
                const msgs = decodeMessages(r.batches, offset);
                expect(msgs.length).toBeGreaterThan(0);
                for (const info of readBatches(r.batches)) {
                  // Each batch carries its send's codec and, when idempotent, a producer id.
                  expect(info.producerId >= 0).toBe(idempotent);
                  expect(info.recordCount).toBe(info.lastOffset - info.baseOffset + 1);
                  const k = `${p}/${info.compression}`;
                  if (!got.has(k)) got.set(k, []);
                  got
                    .get(k)
                    ?.push(
                      ...msgs.filter(
                        (m) => Number(m.offset) >= info.baseOffset && Number(m.offset) <= info.lastOffset,
                      ),
                    );
                }
                offset = r.nextOffset;
              }
            }
          } finally {
            await log.close();
          }
          expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
          for (const [k, want] of expected) {
            const have = got.get(k) ?? [];
            expect(have, k).toHaveLength(want.length);
            want.forEach((m, i) => {
              const g = have[i] as (typeof have)[number];
              expect(g.key === null ? null : Buffer.from(g.key)).toEqual(toBuf(m.key));
              expect(g.value === null ? null : Buffer.from(g.value)).toEqual(toBuf(m.value));
              expect(normalHeaders(g.headers)).toEqual(expectedHeaders(m.headers));
              if (m.timestamp === undefined) {
                expect(Number(g.timestamp)).toBeGreaterThanOrEqual(before);
                expect(Number(g.timestamp)).toBeLessThanOrEqual(after);
              } else expect(g.timestamp).toBe(String(Number(m.timestamp)));
            });
          }
          const verified = await Log.verify(dataDir);
          for (const part of verified.partitions)
            expect(part.problems, `${part.topic}-${part.partition}`).toEqual([]);
          expect(verified.partitions.length).toBe(3);
        },
      ),
      { numRuns: 30 },
    );
  }, 240_000);
});

describe('string keys are hashed as their UTF-8 bytes, without a Buffer made for them', () => {
  it('any string hashes as Buffer.from(string) does, after any other key (Java murmur2 and kafkajs 1.x legacy)', () => {
    const key = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ maxLength: 20, unit: 'grapheme' }),
      fc.string({ maxLength: 20, unit: 'binary' }),
    );
    fc.assert(
      fc.property(fc.array(key, { minLength: 1, maxLength: 8 }), (keys) => {
        // In sequence: a longer key's bytes must not leak into a shorter one's hash.
        for (const k of keys) {
          const bytes = Buffer.from(k, 'utf8');
          expect(murmur2(k), k).toBe(murmur2(bytes));
          expect(legacyMurmur2(k), k).toBe(legacyMurmur2(bytes));
        }
      }),
      { numRuns: 500 },
    );
  });
});
