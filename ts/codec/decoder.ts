/**
 * Decoding of RecordBatch v2 bytes: into columns (`decodeColumns`: typed
 * arrays of offsets, timestamps and key/value/header positions over one
 * backing buffer, no object per record) and, over those, into lazy
 * kafkajs-shaped messages (`decodeMessages`).
 *
 * One pass finds each record's key, value and headers; nothing is copied
 * unless compressed. `key`, `value` and header values are Buffer views,
 * made only when read, so a consumer that reads only values pays for values
 * (see ./view for how they are made).
 */
import { CorruptDataError, fromNative } from '../errors';
import { decompressRecords } from './compression';
import type { IHeaders } from './encoder';
import * as F from './format';
import { readVarint } from './varint';
import { bufferView } from './view';

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
 * numbers, for code that wants to skip the conversion. Everything is read
 * from the columns of its fetch on access: the object itself is two fields.
 */
export class DecodedMessage {
  private readonly t: RecordColumns;
  private readonly i: number;

  constructor(columns: RecordColumns, index: number) {
    this.t = columns;
    this.i = index;
  }

  /** The batch this message came from. */
  get batch(): BatchInfo {
    return this.t.batchOf(this.i);
  }

  get offsetNumber(): number {
    return this.t.offsets[this.i] as number;
  }

  get timestampMs(): number {
    return this.t.timestamps[this.i] as number;
  }

  /** Record attributes: unused in RecordBatch v2, always 0 (a getter, so it costs no field). */
  get attributes(): number {
    return 0;
  }

  get offset(): string {
    return String(this.t.offsets[this.i]);
  }

  get timestamp(): string {
    return String(this.t.timestamps[this.i]);
  }

  /** A view of the key, or null. */
  get key(): Buffer | null {
    // Inline (no index check: `i` is in range by construction): this is
    // the per-message hot path.
    const t = this.t;
    const len = t.keyLengths[this.i] as number;
    const start = t.keyStarts[this.i] as number;
    return len < 0 ? null : bufferView(t.arrayBuffer, t.byteOffset + start, len);
  }

  /** A view of the value, or null. */
  get value(): Buffer | null {
    const t = this.t;
    const len = t.valueLengths[this.i] as number;
    const start = t.valueStarts[this.i] as number;
    return len < 0 ? null : bufferView(t.arrayBuffer, t.byteOffset + start, len);
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
    return this.t.headers(this.i);
  }

  /** Control batches are never decoded into messages. */
  get isControlRecord(): boolean {
    return false;
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

export function decodeHeaders(buf: Buffer, start: number, end: number): IHeaders {
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
      value = bufferView(buf.buffer, buf.byteOffset + pos, vl);
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
 * The messages are views over one `RecordColumns` (see `decodeColumns`).
 */
export function decodeMessages(
  chunk: Buffer,
  fromOffset = 0,
  out?: DecodedMessage[],
  maxDecompressedBytes = Number.POSITIVE_INFINITY,
): DecodedMessage[] {
  return decodeColumns(chunk, fromOffset, maxDecompressedBytes).messages(out);
}

/**
 * The records of one read or fetch as columns: one backing buffer and typed
 * arrays, no object per record. Record `i` has offset `offsets[i]`,
 * timestamp `timestamps[i]` (milliseconds), key bytes
 * `buffer[keyStarts[i], keyStarts[i] + keyLengths[i])` (length -1: null key),
 * value bytes likewise, and its headers section (Kafka's varint count, then
 * the headers) at `buffer[headerStarts[i], headerEnds[i])`, `headerCounts[i]`
 * of them. Uncompressed batches are not copied (`buffer` is the fetched
 * bytes, a view over the mapped segment for the local log); compressed ones
 * are inflated into one buffer. Control batches are left out.
 *
 * Offsets and timestamps are float64: exact up to 2^53, as everywhere in
 * ferrolog's number-typed API.
 */
export class RecordColumns {
  readonly length: number;
  readonly buffer: Buffer;
  /**
   * @internal `buffer`'s memory and where it starts in it, read once per
   * fetch rather than per key and value (see `bufferView` in ./view).
   */
  readonly arrayBuffer: ArrayBufferLike;
  /** @internal */
  readonly byteOffset: number;
  readonly offsets: Float64Array;
  readonly timestamps: Float64Array;
  readonly keyStarts: Int32Array;
  readonly keyLengths: Int32Array;
  readonly valueStarts: Int32Array;
  readonly valueLengths: Int32Array;
  readonly headerStarts: Int32Array;
  readonly headerEnds: Int32Array;
  readonly headerCounts: Int32Array;
  /** Each record's batch, as an index into `batches`. */
  readonly batchIndexes: Int32Array;
  /** The headers of the batches the records came from (decoded ones only). */
  readonly batches: readonly BatchInfo[];
  /**
   * The offset after the last batch looked at (control batches and batches
   * wholly below the requested offset included): where to read next when
   * `length` is 0.
   */
  readonly nextOffset: number;
  private headerCache: (IHeaders | undefined)[] | undefined;

  /** @internal Made by `decodeColumns`. */
  constructor(
    buffer: Buffer,
    length: number,
    arrays: {
      offsets: Float64Array;
      timestamps: Float64Array;
      pos: Int32Array[];
      batchIndexes: Int32Array;
    },
    batches: BatchInfo[],
    nextOffset: number,
  ) {
    this.buffer = buffer;
    this.arrayBuffer = buffer.buffer;
    this.byteOffset = buffer.byteOffset;
    this.length = length;
    this.offsets = arrays.offsets.subarray(0, length);
    this.timestamps = arrays.timestamps.subarray(0, length);
    const p = arrays.pos.map((a) => a.subarray(0, length));
    this.keyStarts = p[0] as Int32Array;
    this.keyLengths = p[1] as Int32Array;
    this.valueStarts = p[2] as Int32Array;
    this.valueLengths = p[3] as Int32Array;
    this.headerStarts = p[4] as Int32Array;
    this.headerEnds = p[5] as Int32Array;
    this.headerCounts = p[6] as Int32Array;
    this.batchIndexes = arrays.batchIndexes.subarray(0, length);
    this.batches = batches;
    this.nextOffset = nextOffset;
    this.headerCache = undefined;
  }

  private check(i: number): void {
    if (!(i >= 0 && i < this.length && Number.isInteger(i))) {
      throw new RangeError(`record index ${String(i)} is outside 0..${this.length - 1}`);
    }
  }

  /** A view of record `i`'s key, or null (allocates the view; the columns do not). */
  key(i: number): Buffer | null {
    this.check(i);
    const len = this.keyLengths[i] as number;
    const start = this.keyStarts[i] as number;
    return len < 0 ? null : bufferView(this.arrayBuffer, this.byteOffset + start, len);
  }

  /** A view of record `i`'s value, or null. */
  value(i: number): Buffer | null {
    this.check(i);
    const len = this.valueLengths[i] as number;
    const start = this.valueStarts[i] as number;
    return len < 0 ? null : bufferView(this.arrayBuffer, this.byteOffset + start, len);
  }

  /** Record `i`'s headers in kafkajs' shape (decoded on first use, then kept). */
  headers(i: number): IHeaders {
    this.check(i);
    this.headerCache ??= [];
    let h = this.headerCache[i];
    if (h === undefined) {
      h =
        this.headerCounts[i] === 0
          ? {}
          : decodeHeaders(this.buffer, this.headerStarts[i] as number, this.headerEnds[i] as number);
      this.headerCache[i] = h;
    }
    return h;
  }

  /** The header of record `i`'s batch. */
  batchOf(i: number): BatchInfo {
    this.check(i);
    return this.batches[this.batchIndexes[i] as number] as BatchInfo;
  }

  /** kafkajs-shaped messages over these columns (one small object each), appended to `out`. */
  messages(out?: DecodedMessage[]): DecodedMessage[] {
    const n = this.length;
    if (out === undefined) {
      // Sized once: growing by push copies the array about twenty times for a fetch.
      const all = new Array<DecodedMessage>(n);
      for (let i = 0; i < n; i++) all[i] = new DecodedMessage(this, i);
      return all;
    }
    for (let i = 0; i < n; i++) out.push(new DecodedMessage(this, i));
    return out;
  }
}

const EMPTY_BUFFER = Buffer.alloc(0);

/** Where one batch's records lie before they are decoded. */
interface Section {
  batch: BatchInfo;
  buf: Buffer;
  start: number;
  end: number;
}

/**
 * Decodes every record of every batch in `chunk` (whole RecordBatch v2
 * batches, back to back) whose offset is at least `fromOffset` into
 * columns. With `maxDecompressedBytes`, decoding stops after the batch
 * that reaches that many inflated bytes (once it yielded a record): the
 * caller reads on from the next offset, so a fetch of many compressed
 * batches is never inflated all at once. Throws CorruptDataError on bad
 * framing and writes nothing.
 */
export function decodeColumns(
  chunk: Buffer,
  fromOffset = 0,
  maxDecompressedBytes = Number.POSITIVE_INFINITY,
): RecordColumns {
  const sections: Section[] = [];
  let capacity = 0;
  let inflated = 0;
  let nextOffset = fromOffset;
  let pos = 0;
  while (pos < chunk.byteLength) {
    if (inflated >= maxDecompressedBytes && capacity > 0) break;
    const batch = readBatchInfo(chunk, pos);
    pos += batch.sizeBytes;
    nextOffset = Math.max(nextOffset, batch.lastOffset + 1);
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
    // Every record takes at least one byte: a count beyond that is a lie,
    // checked before the columns are sized from it.
    if (batch.recordCount < 0 || batch.recordCount > end - start)
      throw new CorruptDataError(`batch ${batch.baseOffset} claims ${batch.recordCount} records`);
    sections.push({ batch, buf, start, end });
    capacity += batch.recordCount;
  }
  // One backing buffer: the chunk itself when every section lies in one
  // buffer (uncompressed batches, or a single compressed one), otherwise the
  // sections copied back to back.
  const first = sections[0];
  let buffer: Buffer = first === undefined ? EMPTY_BUFFER : first.buf;
  const bases = new Int32Array(sections.length);
  if (sections.some((s) => s.buf !== buffer)) {
    let total = 0;
    for (const s of sections) total += s.end - s.start;
    buffer = Buffer.allocUnsafe(total);
    let at = 0;
    for (let k = 0; k < sections.length; k++) {
      const s = sections[k] as Section;
      s.buf.copy(buffer, at, s.start, s.end);
      bases[k] = at - s.start;
      at += s.end - s.start;
    }
  }
  const arrays = {
    offsets: new Float64Array(capacity),
    timestamps: new Float64Array(capacity),
    pos: Array.from({ length: 7 }, () => new Int32Array(capacity)),
    batchIndexes: new Int32Array(capacity),
  };

  let n = 0;
  for (let k = 0; k < sections.length; k++) {
    const s = sections[k] as Section;
    try {
      n = decodeSection(s, bases[k] as number, k, fromOffset, arrays, n);
    } catch (e) {
      // A varint that runs off its record is corruption like any other.
      if (e instanceof RangeError) throw new CorruptDataError(`batch ${s.batch.baseOffset}: ${e.message}`);
      throw e;
    }
  }
  return new RecordColumns(
    buffer,
    n,
    arrays,
    sections.map((s) => s.batch),
    nextOffset,
  );
}

/** Decodes one batch's records into the columns from row `n`; returns the next row. */
function decodeSection(
  s: Section,
  base: number,
  batchIndex: number,
  fromOffset: number,
  arrays: { offsets: Float64Array; timestamps: Float64Array; pos: Int32Array[]; batchIndexes: Int32Array },
  row: number,
): number {
  const { batch, buf, start, end } = s;
  const [keyStarts, keyLengths, valueStarts, valueLengths, headerStarts, headerEnds, headerCounts] =
    arrays.pos as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];
  const { offsets, timestamps, batchIndexes } = arrays;
  const baseOffset = batch.baseOffset;
  const appendTime = batch.isLogAppendTime;
  let n = row;
  let pos = start;
  const count = batch.recordCount;
  // Most varints in a record are one byte: those are read inline, and only
  // longer ones call readVarint (which also bounds-checks).
  let b = 0;
  for (let i = 0; i < count; i++) {
    // The record's length and its value's length take two bytes for values
    // of 64 to 8191 bytes: that case is read inline too.
    let length: number;
    b = buf[pos] as number;
    let b1 = buf[pos + 1] as number;
    if (b < 0x80 && pos < end) {
      length = (b >>> 1) ^ -(b & 1);
      pos++;
    } else if (b1 < 0x80 && pos + 1 < end) {
      const u = (b & 0x7f) | (b1 << 7);
      length = (u >>> 1) ^ -(u & 1);
      pos += 2;
    } else {
      length = readVarint(buf, pos, end, cursor);
      pos = cursor[0] as number;
    }
    const recordEnd = pos + length;
    if (length < 1 || recordEnd > end)
      throw new CorruptDataError(`record ${i} of batch ${baseOffset} runs past its batch`);
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
    let valueLen: number;
    b = buf[pos] as number;
    b1 = buf[pos + 1] as number;
    if (b < 0x80 && pos < recordEnd) {
      valueLen = (b >>> 1) ^ -(b & 1);
      pos++;
    } else if (b1 < 0x80 && pos + 1 < recordEnd) {
      const u = (b & 0x7f) | (b1 << 7);
      valueLen = (u >>> 1) ^ -(u & 1);
      pos += 2;
    } else {
      valueLen = readVarint(buf, pos, recordEnd, cursor);
      pos = cursor[0] as number;
    }
    const valueStart = pos;
    if (valueLen > 0) pos += valueLen;
    if (pos >= recordEnd || keyLen < -1 || valueLen < -1) {
      // At least the headers count must follow the value.
      throw new CorruptDataError(`record ${i} of batch ${baseOffset} is malformed`);
    }
    const offset = baseOffset + offsetDelta;
    if (offset >= fromOffset) {
      let headerCount: number;
      b = buf[pos] as number;
      if (b < 0x80) headerCount = (b >>> 1) ^ -(b & 1);
      else headerCount = readVarint(buf, pos, recordEnd, cursor);
      if (headerCount < 0) throw new CorruptDataError(`record ${i} of batch ${baseOffset} is malformed`);
      offsets[n] = offset;
      timestamps[n] = appendTime ? batch.maxTimestamp : batch.baseTimestamp + tsDelta;
      keyStarts[n] = keyStart + base;
      keyLengths[n] = keyLen;
      valueStarts[n] = valueStart + base;
      valueLengths[n] = valueLen;
      headerStarts[n] = pos + base;
      headerEnds[n] = recordEnd + base;
      headerCounts[n] = headerCount;
      batchIndexes[n] = batchIndex;
      n++;
    }
    pos = recordEnd;
  }
  if (pos !== end) throw new CorruptDataError(`batch ${baseOffset} has bytes after its last record`);
  return n;
}
