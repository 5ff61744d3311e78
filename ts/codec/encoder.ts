/**
 * Encodes records into one Kafka RecordBatch v2 buffer: a sizing pass, one
 * allocation, one writing pass, and one native CRC-32C call per batch.
 */
import { InvalidArgumentError } from '../errors';
import { binding } from '../native';
import * as F from './format';
import { varintSize, writeVarint } from './varint';

/** A header value as kafkajs accepts it; arrays repeat the key. */
export type HeaderValue = Buffer | string | null | undefined | (Buffer | string)[];
/** kafkajs `IHeaders`. */
export interface IHeaders {
  [key: string]: HeaderValue;
}

/** One record to encode. `timestamp` is milliseconds since the epoch. */
export interface RecordInput {
  key?: Buffer | Uint8Array | string | null;
  value: Buffer | Uint8Array | string | null;
  headers?: IHeaders;
  timestamp: number;
}

/** Batch-level fields; all default to "not idempotent, uncompressed". */
export interface BatchOptions {
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** Attribute bits (compression codec in bits 0-2). */
  attributes?: number;
}

/** The encoded record section of a batch, before any compression. */
export interface EncodedRecords {
  /** `headroom` unused bytes, then the records. */
  buf: Buffer;
  headroom: number;
  count: number;
  baseTimestamp: number;
  maxTimestamp: number;
}

function byteLen(v: Buffer | Uint8Array | string | null | undefined, what: string, index: number): number {
  if (v === null || v === undefined) return -1;
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (v instanceof Uint8Array) return v.byteLength;
  throw new InvalidArgumentError(
    `message ${index}: ${what} must be a Buffer, Uint8Array, string or null, not ${typeof v}`,
  );
}

function put(buf: Buffer, pos: number, v: Buffer | Uint8Array | string, len: number): number {
  if (typeof v === 'string') {
    buf.write(v, pos, len, 'utf8');
  } else {
    buf.set(v, pos);
  }
  return pos + len;
}

// Scratch space reused across calls: lengths per record (key, value, body).
let lengths = new Int32Array(3 * 1024);

function headerEntries(headers: IHeaders | undefined, index: number): [string, Buffer | string | null][] {
  if (headers === undefined || headers === null) return [];
  if (typeof headers !== 'object' || Array.isArray(headers)) {
    throw new InvalidArgumentError(`message ${index}: headers must be an object of string or Buffer values`);
  }
  const out: [string, Buffer | string | null][] = [];
  for (const key of Object.keys(headers)) {
    const v = headers[key];
    if (Array.isArray(v)) {
      for (const item of v) out.push([key, checkHeader(item, key, index)]);
    } else {
      out.push([key, checkHeader(v, key, index)]);
    }
  }
  return out;
}

function checkHeader(v: unknown, key: string, index: number): Buffer | string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || v instanceof Uint8Array) return v as Buffer | string;
  throw new InvalidArgumentError(
    `message ${index}: header "${key}" must be a string, Buffer or array of them, not ${typeof v}`,
  );
}

/**
 * Encodes the records section (everything after recordCount), after
 * `headroom` unused bytes, so an uncompressed batch's header can be written
 * in front without copying the records.
 */
export function encodeRecords(
  all: readonly RecordInput[],
  headroom = 0,
  from = 0,
  to: number = all.length,
): EncodedRecords {
  const count = to - from;
  if (count <= 0) throw new InvalidArgumentError('a batch needs at least one record');
  if (lengths.length < count * 3) lengths = new Int32Array(count * 3 * 2);
  // Records are read in place (all[from + i]): no copy of the range.
  const first = all[from] as RecordInput;
  const baseTimestamp = first.timestamp;
  let maxTimestamp = baseTimestamp;
  let total = 0;
  let headerLists: ([string, Buffer | string | null][] | null)[] | null = null;
  for (let i = 0; i < count; i++) {
    const r = all[from + i] as RecordInput;
    const ts = r.timestamp;
    if (!Number.isSafeInteger(ts)) {
      throw new InvalidArgumentError(`message ${i}: timestamp must be an integer number of ms, not ${ts}`);
    }
    if (ts > maxTimestamp) maxTimestamp = ts;
    const keyLen = byteLen(r.key, 'key', i);
    const valueLen = byteLen(r.value, 'value', i);
    let body =
      1 +
      varintSize(ts - baseTimestamp) +
      varintSize(i) +
      varintSize(keyLen) +
      (keyLen > 0 ? keyLen : 0) +
      varintSize(valueLen) +
      (valueLen > 0 ? valueLen : 0);
    if (r.headers !== undefined) {
      const hs = headerEntries(r.headers, i);
      if (headerLists === null) headerLists = new Array(count).fill(null);
      headerLists[i] = hs;
      body += varintSize(hs.length);
      for (const [k, v] of hs) {
        const kl = Buffer.byteLength(k, 'utf8');
        const vl = v === null ? -1 : typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.byteLength;
        body += varintSize(kl) + kl + varintSize(vl) + (vl > 0 ? vl : 0);
      }
    } else {
      body += 1;
    }
    lengths[i * 3] = keyLen;
    lengths[i * 3 + 1] = valueLen;
    lengths[i * 3 + 2] = body;
    total += varintSize(body) + body;
  }
  const buf = Buffer.allocUnsafe(headroom + total);
  let pos = headroom;
  for (let i = 0; i < count; i++) {
    const r = all[from + i] as RecordInput;
    const keyLen = lengths[i * 3] as number;
    const valueLen = lengths[i * 3 + 1] as number;
    pos = writeVarint(buf, pos, lengths[i * 3 + 2] as number);
    buf[pos++] = 0;
    pos = writeVarint(buf, pos, r.timestamp - baseTimestamp);
    pos = writeVarint(buf, pos, i);
    pos = writeVarint(buf, pos, keyLen);
    if (keyLen > 0) pos = put(buf, pos, r.key as Buffer | string, keyLen);
    pos = writeVarint(buf, pos, valueLen);
    if (valueLen > 0) pos = put(buf, pos, r.value as Buffer | string, valueLen);
    const hs = headerLists === null ? null : headerLists[i];
    if (hs === null || hs === undefined) {
      buf[pos++] = 0;
    } else {
      pos = writeVarint(buf, pos, hs.length);
      for (const [k, v] of hs) {
        const kl = Buffer.byteLength(k, 'utf8');
        pos = writeVarint(buf, pos, kl);
        pos = put(buf, pos, k, kl);
        if (v === null) {
          pos = writeVarint(buf, pos, -1);
        } else {
          const vl = typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.byteLength;
          pos = writeVarint(buf, pos, vl);
          pos = put(buf, pos, v, vl);
        }
      }
    }
  }
  if (pos !== headroom + total) throw new Error(`internal: encoded ${pos - headroom} bytes, sized ${total}`);
  return { buf, headroom, count, baseTimestamp, maxTimestamp };
}

/**
 * Writes the 61-byte header in front of records that `encodeRecords` left
 * `HEADER_BYTES` of headroom for, and the CRC. Returns `b`.
 */
export function writeHeader(
  b: Buffer,
  count: number,
  baseTimestamp: number,
  maxTimestamp: number,
  options: BatchOptions,
): Buffer {
  const size = b.byteLength;
  F.writeInt64(b, F.BASE_OFFSET, 0);
  b.writeInt32BE(size - F.LOG_OVERHEAD_BYTES, F.BATCH_LENGTH);
  b.writeInt32BE(0, F.PARTITION_LEADER_EPOCH);
  b[F.MAGIC] = 2;
  b.writeInt16BE(options.attributes ?? 0, F.ATTRIBUTES);
  b.writeInt32BE(count - 1, F.LAST_OFFSET_DELTA);
  F.writeInt64(b, F.BASE_TIMESTAMP, baseTimestamp);
  F.writeInt64(b, F.MAX_TIMESTAMP, maxTimestamp);
  F.writeInt64(b, F.PRODUCER_ID, options.producerId ?? -1);
  b.writeInt16BE(options.producerEpoch ?? -1, F.PRODUCER_EPOCH);
  b.writeInt32BE(options.baseSequence ?? -1, F.BASE_SEQUENCE);
  b.writeInt32BE(count, F.RECORD_COUNT);
  b.writeUInt32BE(binding.crc32c(b, F.ATTRIBUTES, size), F.CRC);
  return b;
}

/**
 * Frames a records section (compressed, typically) as a whole RecordBatch
 * v2, base offset 0 (the log assigns it), with its CRC-32C.
 */
export function frameBatch(
  body: Uint8Array,
  count: number,
  baseTimestamp: number,
  maxTimestamp: number,
  options: BatchOptions = {},
): Buffer {
  const b = Buffer.allocUnsafe(F.HEADER_BYTES + body.byteLength);
  b.set(body, F.HEADER_BYTES);
  return writeHeader(b, count, baseTimestamp, maxTimestamp, options);
}

/** Encodes `records` as one uncompressed RecordBatch v2, in one buffer. */
export function encodeBatch(records: readonly RecordInput[], options: BatchOptions = {}): Buffer {
  const r = encodeRecords(records, F.HEADER_BYTES);
  return writeHeader(r.buf, r.count, r.baseTimestamp, r.maxTimestamp, options);
}
