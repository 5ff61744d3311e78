/**
 * The producer's in-memory shapes, shared by staging (which fills queues),
 * the accumulator (which holds them until a flush) and the sender (which
 * turns them into batches and settles sends). Types only, and a factory.
 */
import type { CompressionTypes } from '../codec/compression';
import type { RecordInput } from '../codec/encoder';
import type { PartitionMetadata } from './partitioners';
import type { RecordMetadata } from './types';

/** One `send`/`sendBatch` call in flight. */
export interface SendOp {
  /** Parts not yet settled (done or failed). */
  remaining: number;
  results: RecordMetadata[];
  /** Parts that failed, in the order they did; null while none has. */
  failures: Part[] | null;
  resolve: (r: RecordMetadata[]) => void;
  reject: (e: Error) => void;
  settled: boolean;
  acks: -1 | 0 | 1;
}

/**
 * The messages of one send for one queue. Staging pushes them straight onto
 * the end of the queue's arrays (a send's parts are contiguous there), so a
 * send allocates no arrays of its own; a send that fails validation cuts
 * them off again, and one that must wait for room carries them in
 * `detached` until it joins.
 */
export interface Part {
  op: SendOp;
  queue: Queue;
  /** Index of the part's first record in its queue. */
  start: number;
  count: number;
  bytes: number;
  baseOffset: number;
  done: number;
  /** Records of the part the log took (the failure report counts them). */
  appended: number;
  /** Records of the part that failed; with `done`, says when the part is settled. */
  lost: number;
  failed: Error | null;
  detached: { records: RecordInput[]; sizes: number[] } | null;
}

/** Queued records of one partition with one compression. */
export interface Queue {
  topic: string;
  partition: number;
  compression: CompressionTypes;
  /** The topic, for its batch limit when the queue is drained. */
  info: TopicInfo;
  records: RecordInput[];
  sizes: number[];
  parts: Part[];
  bytes: number;
  /** Whether it is in the accumulator's list of queues to flush. */
  active: boolean;
}

/** What the producer knows of a topic; refreshed in place. */
export interface TopicInfo {
  partitions: number;
  batchBytesMax: number;
  /** What a custom partitioner is shown, made on first use. */
  metadata: PartitionMetadata[] | null;
  /** Queues by partition * CODECS + compression, made on first use. */
  queues: (Queue | undefined)[];
}

/** Compression codecs (none, gzip, snappy, lz4, zstd): queues per partition. */
export const CODECS = 5;

export function queueFor(
  info: TopicInfo,
  topic: string,
  partition: number,
  compression: CompressionTypes,
): Queue {
  const at = partition * CODECS + compression;
  let q = info.queues[at];
  if (q === undefined) {
    q = { topic, partition, compression, info, records: [], sizes: [], parts: [], bytes: 0, active: false };
    info.queues[at] = q;
  }
  return q;
}
