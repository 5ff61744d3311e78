/**
 * The mirror forwards stored RecordBatches without decoding their records:
 * it walks a chunk's batch headers and rewrites only the producer id,
 * epoch and base sequence of each (and so the CRC-32C, which covers them),
 * one native CRC call per batch.
 */

import * as F from '../codec/format';
import { CorruptDataError } from '../errors';
import { binding } from '../native';

/** One whole batch in a chunk. */
export interface BatchRef {
  /** Byte position in the chunk. */
  position: number;
  sizeBytes: number;
  baseOffset: number;
  lastOffset: number;
  isControl: boolean;
  isTransactional: boolean;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

/**
 * The whole batches of `chunk`, in order. A fetch may end in a batch cut at
 * the size limit (Kafka sends a partial batch then): it is left out, the
 * next read starts at it. Anything else malformed is a CorruptDataError.
 */
export function wholeBatches(chunk: Buffer): BatchRef[] {
  const out: BatchRef[] = [];
  let pos = 0;
  while (chunk.byteLength - pos >= F.LOG_OVERHEAD_BYTES) {
    const length = chunk.readInt32BE(pos + F.BATCH_LENGTH);
    const sizeBytes = length + F.LOG_OVERHEAD_BYTES;
    if (length < F.HEADER_BYTES - F.LOG_OVERHEAD_BYTES) {
      throw new CorruptDataError(`batch at byte ${pos} claims ${sizeBytes} bytes, less than a header`);
    }
    if (pos + sizeBytes > chunk.byteLength) break;
    const magic = chunk[pos + F.MAGIC];
    if (magic !== 2) {
      throw new CorruptDataError(
        `batch at byte ${pos} has magic ${String(magic)}; the mirror forwards v2 batches`,
      );
    }
    const baseOffset = F.readInt64(chunk, pos + F.BASE_OFFSET);
    const lastOffsetDelta = chunk.readInt32BE(pos + F.LAST_OFFSET_DELTA);
    if (lastOffsetDelta < 0) {
      throw new CorruptDataError(`batch at byte ${pos} has a negative last offset delta`);
    }
    const attributes = chunk.readInt16BE(pos + F.ATTRIBUTES);
    out.push({
      position: pos,
      sizeBytes,
      baseOffset,
      lastOffset: baseOffset + lastOffsetDelta,
      isControl: (attributes & F.CONTROL_MASK) !== 0,
      isTransactional: (attributes & F.TRANSACTIONAL_MASK) !== 0,
      producerId: F.readInt64(chunk, pos + F.PRODUCER_ID),
      producerEpoch: chunk.readInt16BE(pos + F.PRODUCER_EPOCH),
      baseSequence: chunk.readInt32BE(pos + F.BASE_SEQUENCE),
    });
    pos += sizeBytes;
  }
  return out;
}

/**
 * Kafka's sequences are int32 and wrap from 2^31-1 to 0 (DefaultRecordBatch
 * incrementSequence); the last sequence of a batch is base + last delta.
 */
export const SEQUENCE_SPAN = 2 ** 31;

export function lastSequence(baseSequence: number, lastOffsetDelta: number): number {
  return (baseSequence + lastOffsetDelta) % SEQUENCE_SPAN;
}

/**
 * A copy of one batch with the mirror's producer id, epoch and base
 * sequence, base offset 0, and its CRC recomputed (it covers attributes to the end). The
 * records are untouched. Copies, because a local read is a view over the
 * mapped segment, which must never be written through.
 */
export function restamp(
  chunk: Buffer,
  b: BatchRef,
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
): Buffer {
  const out = Buffer.allocUnsafe(b.sizeBytes);
  chunk.copy(out, 0, b.position, b.position + b.sizeBytes);
  // A produce request's batches start at offset 0 with no leader epoch, as a producer sends them
  // (Kafka 4 refuses any other base offset); the target assigns both. Neither is under the CRC.
  F.writeInt64(out, F.BASE_OFFSET, 0);
  out.writeInt32BE(-1, F.PARTITION_LEADER_EPOCH);
  // The mirror is an idempotent producer, not a transactional one: a batch of the source's
  // transaction goes out as plain data (its markers are left out; see Mirror).
  out.writeInt16BE(out.readInt16BE(F.ATTRIBUTES) & ~F.TRANSACTIONAL_MASK, F.ATTRIBUTES);
  F.writeInt64(out, F.PRODUCER_ID, producerId);
  out.writeInt16BE(producerEpoch, F.PRODUCER_EPOCH);
  out.writeInt32BE(baseSequence, F.BASE_SEQUENCE);
  out.writeUInt32BE(binding.crc32c(out, F.ATTRIBUTES, b.sizeBytes), F.CRC);
  return out;
}

// Control records (transaction markers) are read the same way by the remote consumer.
export { CONTROL_ABORT, CONTROL_COMMIT, controlType } from '../transport/aborted';
