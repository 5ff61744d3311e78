/**
 * Lazy decoding of RecordBatch v2 bytes into kafkajs-shaped messages.
 *
 * One pass finds each record's key, value and headers; nothing is copied.
 * `key`, `value` and header values are Buffer views over the batch, made
 * only when read, so a consumer that reads only values pays for values.
 */
import { CorruptDataError, fromNative } from '../errors';
import { decompressRecords } from './compression';
import type { IHeaders } from './encoder';
import * as F from './format';
import { readVarint } from './varint';

/** The fixed header of one batch, as numbers. */
export interface BatchInfo {
  /** Byte position of the batch in the chunk. */
  position: number;
  /** Whole batch size in bytes. */
  sizeBytes: number;
  baseOffset: number;
  lastOffset: number;
  recordCount: number;
  attributes: number;
  compression: number;
  isLogAppendTime: boolean;
  isTransactional: boolean;
  isControl: boolean;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  partitionLeaderEpoch: number;
}

/** Reads the header of the batch at `pos`, checking that it fits `buf`. */
export function readBatchInfo(buf: Buffer, pos: number): BatchInfo {
  if (buf.byteLength - pos < F.HEADER_BYTES) {
    throw new CorruptDataError(`batch at byte ${pos} is shorter than its ${F.HEADER_BYTES}-byte header`);
  }
  const sizeBytes = buf.readInt32BE(pos + F.BATCH_LENGTH) + F.LOG_OVERHEAD_BYTES;
  if (sizeBytes < F.HEADER_BYTES || pos + sizeBytes > buf.byteLength) {
    throw new CorruptDataError(
      `batch at byte ${pos} claims ${sizeBytes} bytes; ${buf.byteLength - pos} remain`,
    );
  }
  if (buf[pos + F.MAGIC] !== 2) {
    throw new CorruptDataError(`batch at byte ${pos} has magic ${buf[pos + F.MAGIC]}, not 2`);
  }
  const attributes = buf.readInt16BE(pos + F.ATTRIBUTES);
  const baseOffset = F.readInt64(buf, pos + F.BASE_OFFSET);
  return {
    position: pos,
    sizeBytes,
    baseOffset,
    lastOffset: baseOffset + buf.readInt32BE(pos + F.LAST_OFFSET_DELTA),
    recordCount: buf.readInt32BE(pos + F.RECORD_COUNT),
    attributes,
    compression: attributes & F.COMPRESSION_MASK,
    isLogAppendTime: (attributes & F.TIMESTAMP_TYPE_MASK) !== 0,
    isTransactional: (attributes & F.TRANSACTIONAL_MASK) !== 0,
    isControl: (attributes & F.CONTROL_MASK) !== 0,
    baseTimestamp: F.readInt64(buf, pos + F.BASE_TIMESTAMP),
    maxTimestamp: F.readInt64(buf, pos + F.MAX_TIMESTAMP),
    producerId: F.readInt64(buf, pos + F.PRODUCER_ID),
    producerEpoch: buf.readInt16BE(pos + F.PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(pos + F.BASE_SEQUENCE),
    partitionLeaderEpoch: buf.readInt32BE(pos + F.PARTITION_LEADER_EPOCH),
  };
}

/** Every batch header in a chunk of whole batches. */
export function readBatches(chunk: Buffer): BatchInfo[] {
  const out: BatchInfo[] = [];
  let pos = 0;
  while (pos < chunk.byteLength) {
    const info = readBatchInfo(chunk, pos);
    out.push(info);
    pos += info.sizeBytes;
  }
  return out;
}

/**
 * A message in kafkajs' `KafkaMessage` shape. `offset` and `timestamp` are
 * strings, as in kafkajs; `offsetNumber` and `timestampMs` are the same as
 * numbers, for code that wants to skip the conversion.
 */
/**
 * Where the records of one decoded batch lie, in typed arrays: one
 * allocation per batch instead of a field-heavy object per record, which
 * was the decoder's main cost (allocation and garbage collection).
 */
class RecordTable {
  readonly buf: Buffer;
  readonly batch: BatchInfo;
  /** Per record: keyStart, keyLen, valueStart, valueLen, headersStart, recordEnd. */
  readonly pos: Int32Array;
  readonly offsetDelta: Int32Array;
  readonly tsDelta: Float64Array;
  headers: (IHeaders | undefined)[] | undefined;

  constructor(buf: Buffer, batch: BatchInfo, count: number) {
    this.buf = buf;
    this.batch = batch;
    this.pos = new Int32Array(count * 6);
    this.offsetDelta = new Int32Array(count);
    this.tsDelta = new Float64Array(count);
    this.headers = undefined;
  }
}

/**
 * A message in kafkajs' `KafkaMessage` shape. `offset` and `timestamp` are
 * strings, as in kafkajs; `offsetNumber` and `timestampMs` are the same as
 * numbers, for code that wants to skip the conversion. Everything is read
 * from the batch on access: the object itself is two fields.
 */
export class Message {
  private readonly t: RecordTable;
  private readonly i: number;

  constructor(table: RecordTable, index: number) {
    this.t = table;
    this.i = index;
  }

  /** The batch this message came from. */
  get batch(): BatchInfo {
    return this.t.batch;
  }

  get offsetNumber(): number {
    return this.t.batch.baseOffset + (this.t.offsetDelta[this.i] as number);
  }

  get timestampMs(): number {
    const b = this.t.batch;
    return b.isLogAppendTime ? b.maxTimestamp : b.baseTimestamp + (this.t.tsDelta[this.i] as number);
  }

  /** Record attributes: unused in RecordBatch v2, always 0 (a getter, so it costs no field). */
  get attributes(): number {
    return 0;
  }

  get offset(): string {
    return String(this.offsetNumber);
  }

  get timestamp(): string {
    return String(this.timestampMs);
  }

  /** A view of the key, or null. */
  get key(): Buffer | null {
    const p = this.t.pos;
    const at = this.i * 6;
    const len = p[at + 1] as number;
    const start = p[at] as number;
    return len < 0 ? null : this.t.buf.subarray(start, start + len);
  }

  /** A view of the value, or null. */
  get value(): Buffer | null {
    const p = this.t.pos;
    const at = this.i * 6;
    const len = p[at + 3] as number;
    const start = p[at + 2] as number;
    return len < 0 ? null : this.t.buf.subarray(start, start + len);
  }

  /** The key bytes (the same as `key`; consumers with deserializers differ). */
  get rawKey(): Buffer | null {
    return this.key;
  }

  /** The value bytes (the same as `value`; consumers with deserializers differ). */
  get rawValue(): Buffer | null {
    return this.value;
  }

  /** Header values are Buffer views; a repeated key gives an array, as in kafkajs. */
  get headers(): IHeaders {
    const t = this.t;
    if (t.headers === undefined) t.headers = [];
    let h = t.headers[this.i];
    if (h === undefined) {
      const at = this.i * 6;
      h = decodeHeaders(t.buf, t.pos[at + 4] as number, t.pos[at + 5] as number);
      t.headers[this.i] = h;
    }
    return h;
  }

  get isControlRecord(): boolean {
    return this.t.batch.isControl;
  }

  toJSON(): object {
    return {
      offset: this.offset,
      timestamp: this.timestamp,
      key: this.key,
      value: this.value,
      headers: this.headers,
      attributes: this.attributes,
    };
  }
}

const cursor = new Int32Array(1);

function decodeHeaders(buf: Buffer, start: number, end: number): IHeaders {
  const headers: IHeaders = {};
  let pos = start;
  const count = readVarint(buf, pos, end, cursor);
  pos = cursor[0] as number;
  for (let i = 0; i < count; i++) {
    const kl = readVarint(buf, pos, end, cursor);
    pos = cursor[0] as number;
    if (kl < 0 || pos + kl > end) throw new CorruptDataError('header key runs past its record');
    const key = buf.toString('utf8', pos, pos + kl);
    pos += kl;
    const vl = readVarint(buf, pos, end, cursor);
    pos = cursor[0] as number;
    let value: Buffer | null = null;
    if (vl >= 0) {
      if (pos + vl > end) throw new CorruptDataError('header value runs past its record');
      value = buf.subarray(pos, pos + vl);
      pos += vl;
    }
    // kafkajs keeps a null header value as null; repeated keys become arrays.
    // Only own properties count, so keys such as `valueOf` or `__proto__`
    // are plain headers and can never reach the object's prototype.
    const v = value as Buffer;
    if (!Object.hasOwn(headers, key)) {
      Object.defineProperty(headers, key, { value: v, enumerable: true, writable: true, configurable: true });
    } else {
      const prev = headers[key];
      if (Array.isArray(prev)) prev.push(v);
      else headers[key] = [prev as Buffer, v];
    }
  }
  return headers;
}

/**
 * Decodes every record of every batch in `chunk` whose offset is at least
 * `fromOffset`, appending to `out`. Compressed batches are decompressed
 * natively (gzip, snappy, lz4, zstd). Throws CorruptDataError on bad framing.
 */
export function decodeMessages(
  chunk: Buffer,
  fromOffset = 0,
  out: Message[] = [],
  maxDecompressedBytes = Number.POSITIVE_INFINITY,
): Message[] {
  // With a budget, decoding stops after the batch that reaches it (once it
  // yielded a message): the caller reads on from the next offset, so a fetch
  // of many compressed batches never holds them all inflated at once.
  const first = out.length;
  let inflated = 0;
  let pos = 0;
  while (pos < chunk.byteLength) {
    if (inflated >= maxDecompressedBytes && out.length > first) break;
    const batch = readBatchInfo(chunk, pos);
    pos += batch.sizeBytes;
    if (batch.lastOffset < fromOffset || batch.isControl) continue;
    let buf = chunk;
    let start = batch.position + F.HEADER_BYTES;
    let end = batch.position + batch.sizeBytes;
    if (batch.compression !== 0) {
      try {
        buf = decompressRecords(batch.compression, chunk.subarray(start, end));
      } catch (e) {
        throw new CorruptDataError(`batch ${batch.baseOffset}: ${fromNative(e).message}`);
      }
      start = 0;
      end = buf.byteLength;
      inflated += end;
    }
    try {
      decodeRecords(buf, start, end, batch, fromOffset, out);
    } catch (e) {
      // A varint that runs off its record is corruption like any other.
      if (e instanceof RangeError) throw new CorruptDataError(`batch ${batch.baseOffset}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

function decodeRecords(
  buf: Buffer,
  start: number,
  end: number,
  batch: BatchInfo,
  fromOffset: number,
  out: Message[],
): void {
  let pos = start;
  const count = batch.recordCount;
  if (count < 0 || count > end - start)
    throw new CorruptDataError(`batch ${batch.baseOffset} claims ${count} records`);
  const table = new RecordTable(buf, batch, count);
  const tp = table.pos;
  // Most varints in a record are one byte: those are read inline, and only
  // longer ones call readVarint (which also bounds-checks).
  let b = 0;
  for (let i = 0; i < count; i++) {
    const length = readVarint(buf, pos, end, cursor);
    pos = cursor[0] as number;
    const recordEnd = pos + length;
    if (length < 1 || recordEnd > end)
      throw new CorruptDataError(`record ${i} of batch ${batch.baseOffset} runs past its batch`);
    pos += 1; // attributes
    let tsDelta: number;
    b = buf[pos] as number;
    if (b < 0x80 && pos < recordEnd) {
      tsDelta = (b >>> 1) ^ -(b & 1);
      pos++;
    } else {
      tsDelta = readVarint(buf, pos, recordEnd, cursor);
      pos = cursor[0] as number;
    }
    let offsetDelta: number;
    b = buf[pos] as number;
    if (b < 0x80 && pos < recordEnd) {
      offsetDelta = (b >>> 1) ^ -(b & 1);
      pos++;
    } else {
      offsetDelta = readVarint(buf, pos, recordEnd, cursor);
      pos = cursor[0] as number;
    }
    let keyLen: number;
    b = buf[pos] as number;
    if (b < 0x80 && pos < recordEnd) {
      keyLen = (b >>> 1) ^ -(b & 1);
      pos++;
    } else {
      keyLen = readVarint(buf, pos, recordEnd, cursor);
      pos = cursor[0] as number;
    }
    const keyStart = pos;
    if (keyLen > 0) pos += keyLen;
    const valueLen = readVarint(buf, pos, recordEnd, cursor);
    pos = cursor[0] as number;
    const valueStart = pos;
    if (valueLen > 0) pos += valueLen;
    if (pos > recordEnd || keyLen < -1 || valueLen < -1) {
      throw new CorruptDataError(`record ${i} of batch ${batch.baseOffset} is malformed`);
    }
    if (batch.baseOffset + offsetDelta >= fromOffset) {
      const at = i * 6;
      tp[at] = keyStart;
      tp[at + 1] = keyLen;
      tp[at + 2] = valueStart;
      tp[at + 3] = valueLen;
      tp[at + 4] = pos;
      tp[at + 5] = recordEnd;
      table.offsetDelta[i] = offsetDelta;
      table.tsDelta[i] = tsDelta;
      out.push(new Message(table, i));
    }
    pos = recordEnd;
  }
  if (pos !== end) throw new CorruptDataError(`batch ${batch.baseOffset} has bytes after its last record`);
}
