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
 * Writes a non-negative int below 2^30 as a zig-zag varint (lengths, offset
 * deltas, header counts: the varints every record has), or -1 (a null).
 * Kept small so that it inlines into the record loop; `writeVarint` takes
 * the rest.
 */
function putSmall(buf: Uint8Array, pos: number, v: number): number {
  if (v < 64) {
    // Zig-zag of 0..63 is 0..126 and of -1 is 1: one byte.
    buf[pos] = v < 0 ? 1 : v << 1;
    return pos + 1;
  }
  if (v < 8192) {
    const z = v << 1;
    buf[pos] = (z & 0x7f) | 0x80;
    buf[pos + 1] = z >>> 7;
    return pos + 2;
  }
  return writeVarint(buf, pos, v);
}

/** Size of `putSmall`'s varint. */
function smallSize(v: number): number {
  return v < 64 ? 1 : v < 8192 ? 2 : varintSize(v);
}

/** Bytes as a record's key or value takes them. */
export type RecordBytes = Buffer | Uint8Array | string | null | undefined;

/**
 * Records as columns: record `i` is `keys[i]`, `values[i]`, `headers[i]`,
 * `timestamps[i]`. The producer queues records this way, with no object
 * per record (and timestamps unboxed in a number array).
 */
export interface RecordInputColumns {
  keys: readonly RecordBytes[];
  values: readonly RecordBytes[];
  headers: readonly (IHeaders | undefined)[];
  timestamps: readonly number[];
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
  const keys: RecordBytes[] = new Array(count);
  const values: RecordBytes[] = new Array(count);
  const headers: (IHeaders | undefined)[] = new Array(count);
  const timestamps: number[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const r = all[from + i] as RecordInput;
    keys[i] = r.key;
    values[i] = r.value;
    headers[i] = r.headers;
    timestamps[i] = r.timestamp;
  }
  return encodeColumns({ keys, values, headers, timestamps }, headroom, 0, count);
}

/**
 * Memory that encoded batches are carved from, one after another, and
 * reused once their owner knows every batch carved since the last `reset`
 * is dead (the producer's local transport copies a batch into the segment
 * before its call returns). Fresh memory per batch cost more than the
 * encoding: an allocation, a collection of it later, and cache misses on
 * every byte written (issue 17's profiles).
 */
export class EncodeArena {
  private buf: Buffer = Buffer.allocUnsafe(0);
  private used = 0;

  /** Room for `bytes` more, as a view; earlier views stay valid (a full arena moves to new memory). */
  take(bytes: number): Buffer {
    if (this.used + bytes > this.buf.byteLength) {
      this.buf = Buffer.allocUnsafe(Math.max(bytes, 2 * this.buf.byteLength, 64 << 10));
      this.used = 0;
    }
    const view = this.buf.subarray(this.used, this.used + bytes);
    this.used += bytes;
    return view;
  }

  /**
   * Every view handed out is dead: the next `take` reuses the memory. An
   * arena grown past `keepBytesMax` (one huge flush) lets it go instead, so
   * an idle producer does not hold it.
   */
  reset(keepBytesMax: number): void {
    this.used = 0;
    if (this.buf.byteLength > keepBytesMax) this.buf = Buffer.allocUnsafe(0);
  }
}

/**
 * `encodeRecords` of records [from, to) given as columns, into memory from
 * `arena` when given (else a buffer of its own).
 */
export function encodeColumns(
  cols: RecordInputColumns,
  headroom: number,
  from: number,
  to: number,
  arena: EncodeArena | null = null,
): EncodedRecords {
  const count = to - from;
  if (count <= 0) throw new InvalidArgumentError('a batch needs at least one record');
  if (lengths.length < count * 3) lengths = new Int32Array(count * 3 * 2);
  const lens = lengths;
  const keys = cols.keys;
  const values = cols.values;
  const headers = cols.headers;
  const timestamps = cols.timestamps;
  const baseTimestamp = timestamps[from] as number;
  let maxTimestamp = baseTimestamp;
  let total = 0;
  let headerLists: ([string, Buffer | string | null][] | null)[] | null = null;
  for (let i = 0; i < count; i++) {
    const ts = timestamps[from + i] as number;
    if (!Number.isSafeInteger(ts)) {
      throw new InvalidArgumentError(`message ${i}: timestamp must be an integer number of ms, not ${ts}`);
    }
    if (ts > maxTimestamp) maxTimestamp = ts;
    const key = keys[from + i];
    const value = values[from + i];
    // Buffers first: the common case takes one type check each.
    const keyLen =
      key instanceof Uint8Array
        ? key.byteLength
        : key === null || key === undefined
          ? -1
          : byteLen(key, 'key', i);
    const valueLen =
      value instanceof Uint8Array
        ? value.byteLength
        : value === null || value === undefined
          ? -1
          : byteLen(value, 'value', i);
    const delta = ts - baseTimestamp;
    let body =
      1 +
      (delta >= 0 && delta < 64 ? 1 : varintSize(delta)) +
      smallSize(i) +
      smallSize(keyLen) +
      (keyLen > 0 ? keyLen : 0) +
      smallSize(valueLen) +
      (valueLen > 0 ? valueLen : 0);
    const h = headers[from + i];
    if (h !== undefined) {
      const hs = headerEntries(h, i);
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
    lens[i * 3] = keyLen;
    lens[i * 3 + 1] = valueLen;
    lens[i * 3 + 2] = body;
    total += smallSize(body) + body;
  }
  const buf = arena === null ? Buffer.allocUnsafe(headroom + total) : arena.take(headroom + total);
  let pos = headroom;
  for (let i = 0; i < count; i++) {
    const keyLen = lens[i * 3] as number;
    const valueLen = lens[i * 3 + 1] as number;
    pos = putSmall(buf, pos, lens[i * 3 + 2] as number);
    buf[pos++] = 0;
    const delta = (timestamps[from + i] as number) - baseTimestamp;
    if (delta >= 0 && delta < 64) buf[pos++] = delta << 1;
    else pos = writeVarint(buf, pos, delta);
    pos = putSmall(buf, pos, i);
    pos = putSmall(buf, pos, keyLen);
    if (keyLen > 0) pos = put(buf, pos, keys[from + i] as Buffer | string, keyLen);
    pos = putSmall(buf, pos, valueLen);
    if (valueLen > 0) pos = put(buf, pos, values[from + i] as Buffer | string, valueLen);
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

/** Writes a big-endian int32 (any int32 or uint32 bit pattern) with plain byte stores. */
function be32(b: Buffer, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

/** Writes a safe integer as a big-endian int64. */
function be64(b: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  be32(b, at, hi | 0);
  be32(b, at + 4, (v - hi * 4294967296) >>> 0);
}

/**
 * Writes the 61-byte header in front of records that `encodeRecords` left
 * `HEADER_BYTES` of headroom for, and the CRC. Returns `b`. Plain byte
 * stores rather than Buffer's checked writers: for one-record batches (a
 * single send) the header is most of the encoding work.
 */
export function writeHeader(
  b: Buffer,
  count: number,
  baseTimestamp: number,
  maxTimestamp: number,
  options: BatchOptions,
): Buffer {
  return writeHeaderFields(
    b,
    count,
    baseTimestamp,
    maxTimestamp,
    options.attributes ?? 0,
    options.producerId ?? -1,
    options.producerEpoch ?? -1,
    options.baseSequence ?? -1,
  );
}

/** `writeHeader` with the batch options as arguments (the producer's path: no options object a batch). */
export function writeHeaderFields(
  b: Buffer,
  count: number,
  baseTimestamp: number,
  maxTimestamp: number,
  attributes: number,
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
): Buffer {
  const size = b.byteLength;
  if (size < F.HEADER_BYTES) throw new InvalidArgumentError('a batch is at least 61 bytes');
  if (
    !Number.isSafeInteger(baseTimestamp) ||
    !Number.isSafeInteger(maxTimestamp) ||
    !Number.isSafeInteger(producerId) ||
    !Number.isInteger(producerEpoch) ||
    producerEpoch < -32768 ||
    producerEpoch > 32767 ||
    !Number.isInteger(baseSequence) ||
    baseSequence < -2147483648 ||
    baseSequence > 2147483647 ||
    !Number.isInteger(attributes) ||
    attributes < 0 ||
    attributes > 0xffff ||
    !Number.isInteger(count) ||
    count < 1 ||
    count > 2147483647
  ) {
    throw new InvalidArgumentError('batch header field out of range');
  }
  be64(b, F.BASE_OFFSET, 0);
  be32(b, F.BATCH_LENGTH, size - F.LOG_OVERHEAD_BYTES);
  be32(b, F.PARTITION_LEADER_EPOCH, 0);
  b[F.MAGIC] = 2;
  b[F.ATTRIBUTES] = attributes >>> 8;
  b[F.ATTRIBUTES + 1] = attributes;
  be32(b, F.LAST_OFFSET_DELTA, count - 1);
  be64(b, F.BASE_TIMESTAMP, baseTimestamp);
  be64(b, F.MAX_TIMESTAMP, maxTimestamp);
  be64(b, F.PRODUCER_ID, producerId);
  b[F.PRODUCER_EPOCH] = producerEpoch >>> 8;
  b[F.PRODUCER_EPOCH + 1] = producerEpoch;
  be32(b, F.BASE_SEQUENCE, baseSequence);
  be32(b, F.RECORD_COUNT, count);
  be32(b, F.CRC, binding.crc32c(b, F.ATTRIBUTES, size));
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
