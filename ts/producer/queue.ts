/**
 * The producer's in-memory shapes, shared by staging (which fills queues),
 * the accumulator (which holds them until a flush) and the sender (which
 * turns them into batches and settles sends). Types only, and a factory.
 */
import type { CompressionTypes } from '../codec/compression';
import type { IHeaders, RecordBytes } from '../codec/encoder';
import type { PartitionMetadata } from './partitioners';
import type { RecordMetadata } from './types';

/** One `send`/`sendBatch` call in flight. */
export interface SendOp {
  /** Parts not yet settled (done or failed). */
  remaining: number;
  /** One per settled part; null until the first (most sends have one part: an exact one-element array then). */
  results: RecordMetadata[] | null;
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
  /** A send waiting for room carries its records here, taken off the queue. */
  detached: Records | null;
}

/**
 * Queued records as columns (record i < n is keys[i], values[i], ...), with
 * no object per record: the encoder reads them in place. The arrays keep
 * their capacity from flush to flush (a queue alternates between two of
 * these, see `recycle`), so staging a send writes into them without
 * growing arrays afresh each time.
 */
export interface Records {
  n: number;
  keys: RecordBytes[];
  values: RecordBytes[];
  headers: (IHeaders | undefined)[];
  timestamps: number[];
  /** Each record's size estimate (the memory bound and the batch split use it). */
  sizes: number[];
}

export function emptyRecords(): Records {
  return { n: 0, keys: [], values: [], headers: [], timestamps: [], sizes: [] };
}

/** Appends one record. */
export function pushRecord(
  r: Records,
  key: RecordBytes,
  value: RecordBytes,
  headers: IHeaders | undefined,
  timestamp: number,
  size: number,
): void {
  const i = r.n++;
  r.keys[i] = key;
  r.values[i] = value;
  r.headers[i] = headers;
  r.timestamps[i] = timestamp;
  r.sizes[i] = size;
}

/**
 * Cuts the records back to the first `n`, dropping the references of the
 * rest so that no caller's buffer is kept alive by spare capacity.
 */
export function truncateRecords(r: Records, n: number): void {
  for (let i = n; i < r.n; i++) {
    r.keys[i] = null;
    r.values[i] = null;
    r.headers[i] = undefined;
  }
  r.n = n;
}

/** Takes the records from `start` on out of `r`, into records of their own. */
export function spliceRecords(r: Records, start: number): Records {
  const out: Records = {
    n: r.n - start,
    keys: r.keys.slice(start, r.n),
    values: r.values.slice(start, r.n),
    headers: r.headers.slice(start, r.n),
    timestamps: r.timestamps.slice(start, r.n),
    sizes: r.sizes.slice(start, r.n),
  };
  truncateRecords(r, start);
  return out;
}

/** Appends the first `count` of `from` to `to`. */
export function pushRecords(to: Records, from: Records, count: number): void {
  for (let i = 0; i < count; i++) {
    pushRecord(
      to,
      from.keys[i],
      from.values[i],
      from.headers[i],
      from.timestamps[i] as number,
      from.sizes[i] as number,
    );
  }
}

/** Queued records of one partition with one compression. */
export interface Queue {
  topic: string;
  partition: number;
  compression: CompressionTypes;
  /** The topic, for its batch limit when the queue is drained. */
  info: TopicInfo;
  records: Records;
  /** The records a flush took last time, emptied, for the next flush to fill. */
  spare: Records | null;
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
    q = {
      topic,
      partition,
      compression,
      info,
      records: emptyRecords(),
      spare: null,
      parts: [],
      bytes: 0,
      active: false,
    };
    info.queues[at] = q;
  }
  return q;
}
