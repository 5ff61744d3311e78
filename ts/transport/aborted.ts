/**
 * Transactions in fetched RecordBatches: control records (a transaction's
 * commit or abort marker) and read_committed's rule for aborted data. Shared
 * by the remote consumer (which drops aborted batches using the fetch
 * response's aborted_transactions) and the mirror (which reads markers to
 * learn a transaction's outcome).
 */

import * as F from '../codec/format';
import { readVarint } from '../codec/varint';
import { binding } from '../native';

/** Kafka's control record types (ControlRecordType): the key's second int16. */
export const CONTROL_ABORT = 0;
export const CONTROL_COMMIT = 1;

/**
 * The type of a control batch's (single, uncompressed) record: its key is
 * int16 version, int16 type. -1 when the batch does not hold one.
 */
export function controlType(chunk: Buffer, b: { position: number; sizeBytes: number }): number {
  const end = b.position + b.sizeBytes;
  const cursor = [0];
  try {
    let pos = b.position + F.HEADER_BYTES;
    readVarint(chunk, pos, end, cursor); // record length
    pos = (cursor[0] as number) + 1; // attributes
    readVarint(chunk, pos, end, cursor); // timestamp delta
    readVarint(chunk, cursor[0] as number, end, cursor); // offset delta
    const keyLength = readVarint(chunk, cursor[0] as number, end, cursor);
    pos = cursor[0] as number;
    if (keyLength < 4 || pos + 4 > end) return -1;
    return chunk.readInt16BE(pos + 2);
  } catch {
    return -1;
  }
}

/** An entry of a Fetch response's aborted_transactions (read_committed). */
export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
}

/**
 * read_committed over fetched batches: Kafka's rule (the Java consumer's
 * CompletedFetch). Walking the batches in offset order, a transaction of
 * producer P becomes aborted once a batch reaches its first offset; a
 * transactional data batch of an aborted producer is dropped; P's abort
 * marker ends that. Control batches are never data.
 *
 * A dropped batch is not cut out (a fetch holding only aborted batches
 * would then look empty, and the consumer would ask for the same offsets
 * again): it is marked a control batch in a copy of `chunk`, CRC
 * recomputed, so the decoder skips its records and still moves the
 * position past it. `chunk` itself is never written (it may be the
 * network buffer's view). Returns `chunk` when nothing is aborted.
 */
export function dropAborted(chunk: Buffer, aborted: readonly AbortedTransaction[]): Buffer {
  if (aborted.length === 0) return chunk;
  const pending = [...aborted].sort((a, b) => a.firstOffset - b.firstOffset);
  let next = 0;
  const abortedProducers = new Set<number>();
  let out: Buffer | null = null;
  let pos = 0;
  while (chunk.byteLength - pos >= F.HEADER_BYTES) {
    const sizeBytes = chunk.readInt32BE(pos + F.BATCH_LENGTH) + F.LOG_OVERHEAD_BYTES;
    // A cut last batch (or a bad length, which the decoder reports) ends the walk.
    if (sizeBytes < F.HEADER_BYTES || pos + sizeBytes > chunk.byteLength) break;
    const attributes = chunk.readInt16BE(pos + F.ATTRIBUTES);
    const producerId = F.readInt64(chunk, pos + F.PRODUCER_ID);
    if (producerId >= 0) {
      const lastOffset =
        F.readInt64(chunk, pos + F.BASE_OFFSET) + chunk.readInt32BE(pos + F.LAST_OFFSET_DELTA);
      for (
        ;
        next < pending.length && (pending[next] as AbortedTransaction).firstOffset <= lastOffset;
        next++
      ) {
        abortedProducers.add((pending[next] as AbortedTransaction).producerId);
      }
      if ((attributes & F.CONTROL_MASK) !== 0) {
        if (controlType(chunk, { position: pos, sizeBytes }) === CONTROL_ABORT)
          abortedProducers.delete(producerId);
      } else if ((attributes & F.TRANSACTIONAL_MASK) !== 0 && abortedProducers.has(producerId)) {
        out ??= Buffer.from(chunk);
        out.writeInt16BE(attributes | F.CONTROL_MASK, pos + F.ATTRIBUTES);
        out.writeUInt32BE(binding.crc32c(out, pos + F.ATTRIBUTES, pos + sizeBytes), pos + F.CRC);
      }
    }
    pos += sizeBytes;
  }
  return out ?? chunk;
}
