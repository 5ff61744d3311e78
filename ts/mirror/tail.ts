/**
 * The one batch the mirror re-encodes: the one its start falls inside (a
 * `fromOffset`, a log start moved by retention or DeleteRecords). Forwarding
 * it whole would write the records before the start again; this keeps only
 * the records from the start, with their timestamps, keys, values and
 * headers, in the batch's own compression.
 */
import { compressRecords } from '../codec/compression';
import { decodeMessages } from '../codec/decoder';
import { encodeRecords, frameBatch, writeHeader } from '../codec/encoder';
import * as F from '../codec/format';
import type { BatchRef } from './batches';

/**
 * A new batch of the records of `b` (in `chunk`) at offsets `from` and on,
 * base offset 0 and no producer identity (the caller restamps it); null
 * when none is left (compaction can leave a batch's tail empty).
 */
export async function tailBatch(chunk: Buffer, b: BatchRef, from: number): Promise<Buffer | null> {
  const one = chunk.subarray(b.position, b.position + b.sizeBytes);
  const messages = decodeMessages(one, from);
  if (messages.length === 0) return null;
  const records = messages.map((m) => ({
    key: m.key,
    value: m.value,
    headers: m.headers,
    timestamp: m.timestampMs,
  }));
  const compression = chunk.readInt16BE(b.position + F.ATTRIBUTES) & F.COMPRESSION_MASK;
  if (compression === 0) {
    const r = encodeRecords(records, F.HEADER_BYTES);
    return writeHeader(r.buf, r.count, r.baseTimestamp, r.maxTimestamp, { attributes: 0 });
  }
  const r = encodeRecords(records);
  const body = await compressRecords(compression, r.buf.subarray(r.headroom));
  return frameBatch(body, r.count, r.baseTimestamp, r.maxTimestamp, { attributes: compression });
}
