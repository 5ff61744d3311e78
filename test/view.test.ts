// The Buffer views the decoder hands out for keys, values and header values
// (ts/codec/view.ts: real Buffers over the fetched bytes, no copy; a faster
// subclass failed Node's strict deep equality). Everything a kafkajs user does with `message.value`,
// `message.key` and header values must behave as on a Buffer: these tests
// compare each view with a Buffer of the same bytes, through the decoder's
// object and columnar APIs and through a consumer.
import assert from 'node:assert';
import { inspect } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { CompressionTypes, type Consumer, decodeColumns, decodeMessages, Kafka } from '../ts';
import { bufferView } from '../ts/codec/view';
import { compressedBatch, tempDir } from './helpers';

const KEY = Buffer.from('key-1');
const VALUE = Buffer.from('hello, views: 0123456789abcdef');
const HEADER = Buffer.from('h-value');

function decoded(compression = CompressionTypes.None) {
  const chunk = compressedBatch(
    [
      {
        key: KEY,
        value: VALUE,
        timestamp: 1,
        headers: { h: HEADER, twice: [Buffer.from('a'), Buffer.from('b')] },
      },
      { key: null, value: null, timestamp: 2 },
    ],
    compression,
  );
  const [m, empty] = decodeMessages(chunk);
  if (m === undefined || empty === undefined) throw new Error('two messages expected');
  return { chunk, m, empty };
}

/** Every check of "behaves as a Buffer holding `expected`". */
function expectBufferLike(v: Buffer | null | undefined, expected: Buffer): void {
  expect(v).not.toBeNull();
  const b = v as Buffer;
  expect(Buffer.isBuffer(b)).toBe(true);
  expect(b instanceof Buffer).toBe(true);
  expect(b instanceof Uint8Array).toBe(true);
  expect(b.constructor).toBe(Buffer);
  expect(inspect(b)).toBe(inspect(expected));
  expect(inspect(b)).toMatch(/^<Buffer /);
  expect(b.length).toBe(expected.length);
  expect(b.byteLength).toBe(expected.byteLength);
  expect(b.toString()).toBe(expected.toString());
  expect(b.toString('hex')).toBe(expected.toString('hex'));
  expect(b.toString('base64')).toBe(expected.toString('base64'));
  expect(`${b}`).toBe(`${expected}`);
  if (expected.length >= 4) expect(b.readUInt32LE(0)).toBe(expected.readUInt32LE(0));
  expect(() => b.readUInt32LE(b.length - 3)).toThrow(RangeError);
  expect(b.readUInt8(b.length - 1)).toBe(expected.readUInt8(expected.length - 1));
  expect(b.equals(expected)).toBe(true);
  expect(expected.equals(b)).toBe(true);
  expect(Buffer.compare(b, expected)).toBe(0);
  expect(b.compare(expected)).toBe(0);
  expect(b.indexOf(expected.subarray(1, 3))).toBe(expected.indexOf(expected.subarray(1, 3)));
  expect(b.toJSON()).toEqual(expected.toJSON());
  expect(JSON.stringify({ v: b })).toBe(JSON.stringify({ v: expected }));
  expect(Buffer.concat([b, b]).equals(Buffer.concat([expected, expected]))).toBe(true);
  expect(Buffer.from(b).equals(expected)).toBe(true);
  expect(Buffer.byteLength(b)).toBe(expected.length);
  expect([...b]).toEqual([...expected]);
  expect(new TextDecoder().decode(b)).toBe(expected.toString());
  // Test runners' deep equality (constructor and bytes) and Node's loose one.
  expect(b).toEqual(expected);
  expect(b).toStrictEqual(expected);
  expect({ value: b }).toStrictEqual({ value: expected });
  assert.deepEqual(b, expected);
  // Node's strict deep equality compares prototypes: a kafkajs user's
  // `assert.deepStrictEqual(message.value, Buffer.from('..'))` must hold.
  assert.deepStrictEqual(b, expected);
  expect(Object.getPrototypeOf(b)).toBe(Buffer.prototype);
  // Derived buffers are ordinary Buffers over the same memory, as on a Buffer.
  for (const d of [b.slice(1, 4), b.subarray(1, 4)]) {
    expect(Object.getPrototypeOf(d)).toBe(Buffer.prototype);
    expect(d.buffer).toBe(b.buffer);
    expect(d.byteOffset).toBe(b.byteOffset + 1);
    expect(d.equals(expected.subarray(1, 4))).toBe(true);
  }
  const mapped = b.map((x) => x ^ 1);
  expect(Buffer.isBuffer(mapped)).toBe(true);
  expect(mapped[0]).toBe((expected[0] as number) ^ 1);
  // Copies: v8.serialize round-trips a Buffer as a Buffer; structuredClone
  // gives a Uint8Array for a Buffer too.
  const back = deserialize(serialize(b)) as Buffer;
  expect(Buffer.isBuffer(back)).toBe(true);
  expect(back.equals(expected)).toBe(true);
  const clone = structuredClone(b);
  expect(clone.constructor).toBe(structuredClone(expected).constructor);
  expect(Buffer.from(clone).equals(expected)).toBe(true);
}

describe('decoder views behave as Buffers', () => {
  it('key, value and header values of decodeMessages', () => {
    const { m, empty } = decoded();
    expectBufferLike(m.key, KEY);
    expectBufferLike(m.value, VALUE);
    expectBufferLike(m.rawValue, VALUE);
    expectBufferLike(m.headers.h as Buffer, HEADER);
    const twice = m.headers.twice as Buffer[];
    expectBufferLike(twice[0], Buffer.from('a'));
    expectBufferLike(twice[1], Buffer.from('b'));
    expect(empty.key).toBeNull();
    expect(empty.value).toBeNull();
    // A message's JSON is what it is with Buffers.
    expect(JSON.parse(JSON.stringify(m))).toEqual(
      JSON.parse(
        JSON.stringify({
          offset: '0',
          timestamp: '1',
          key: KEY,
          value: VALUE,
          headers: { h: HEADER, twice: [Buffer.from('a'), Buffer.from('b')] },
          attributes: 0,
        }),
      ),
    );
  });

  it('are views of the fetched bytes, not copies', () => {
    const { chunk, m } = decoded();
    const v = m.value as Buffer;
    expect(v.buffer).toBe(chunk.buffer);
    expect(v.byteOffset).toBeGreaterThanOrEqual(chunk.byteOffset);
    expect(v.byteOffset + v.length).toBeLessThanOrEqual(chunk.byteOffset + chunk.length);
    expect(
      chunk.subarray(v.byteOffset - chunk.byteOffset, v.byteOffset - chunk.byteOffset + v.length),
    ).toEqual(VALUE);
    const h = m.headers.h as Buffer;
    expect(h.buffer).toBe(chunk.buffer);
  });

  it('columns and compressed batches', () => {
    for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
      const { chunk } = decoded(compression);
      const cols = decodeColumns(chunk);
      // Compressed batches are inflated into memory of their own.
      expect(cols.buffer.buffer === chunk.buffer).toBe(compression === CompressionTypes.None);
      expectBufferLike(cols.key(0), KEY);
      expectBufferLike(cols.value(0), VALUE);
      expectBufferLike(cols.headers(0).h as Buffer, HEADER);
      expect(cols.value(1)).toBeNull();
      expect(cols.value(0)?.buffer).toBe(cols.buffer.buffer);
    }
  });

  it('bufferView checks its range as a Uint8Array does', () => {
    const mem = new ArrayBuffer(8);
    expect(bufferView(mem, 2, 6).length).toBe(6);
    expect(() => bufferView(mem, 4, 5)).toThrow(RangeError);
    expect(bufferView(mem, 8, 0).length).toBe(0);
  });
});

describe('consumer messages hold Buffer views', () => {
  const open: Consumer[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.disconnect().catch(() => undefined);
  });

  it('eachMessage and eachBatch see Buffers', async () => {
    const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'views',
      messages: [{ key: KEY, value: VALUE, headers: { h: HEADER } }],
    });
    await producer.disconnect();
    for (const mode of ['eachMessage', 'eachBatch'] as const) {
      const c = kafka.consumer({ groupId: `views-${mode}` });
      open.push(c);
      await c.connect();
      await c.subscribe({ topic: 'views', fromBeginning: true });
      const seen = await new Promise<{ key: Buffer; value: Buffer; h: Buffer }>((resolve) => {
        const take = (m: { key: Buffer | null; value: Buffer | null; headers?: Record<string, unknown> }) =>
          resolve({ key: m.key as Buffer, value: m.value as Buffer, h: m.headers?.h as Buffer });
        void c.run(
          mode === 'eachMessage'
            ? { eachMessage: async ({ message }) => take(message) }
            : { eachBatch: async ({ batch }) => take(batch.messages[0] as never) },
        );
      });
      expectBufferLike(seen.key, KEY);
      expectBufferLike(seen.value, VALUE);
      expectBufferLike(seen.h, HEADER);
    }
  });
});
