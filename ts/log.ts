/**
 * `Log`: the low-level API over the storage engine. The producer and
 * consumer layers are built on it; it is also usable directly.
 *
 * Every call here is one native call per batch. Reads return whole batches
 * as zero-copy views over the mapped segment: one external ArrayBuffer per
 * mapped segment, cached weakly, and `Buffer` views over it.
 */
import { EventEmitter } from 'node:events';
import { decodeColumns, type RecordColumns } from './codec/decoder';
import type { RecoveryReport, SegmentDump, VerifyResult } from './engine-reports';
import { ClosedError, fromNative, InvalidArgumentError } from './errors';
import type { GroupCalls } from './group/types';
import { binding, type NativeLog } from './native';

export type { DumpedBatch, RecoveryReport, SegmentDump, VerifyResult } from './engine-reports';

/** Kafka-named topic configs, e.g. `{ 'retention.ms': 3600000, flush: 'always' }`. */
export type TopicConfigEntries = Record<string, string | number>;

export interface LogOptions {
  /** Config for topics created without one (first opener of a directory wins). */
  defaultTopicConfig?: TopicConfigEntries;
  /**
   * Open without the directory lock and without writing anything (recovery
   * happens in memory only): a stopped Kafka broker's log directory, or a
   * directory another process owns. Writes fail with `ReadOnlyError`.
   */
  readOnly?: boolean;
  /**
   * Scan and CRC-check every segment on open, as after a crash with no
   * recovery point (what `ferrolog verify --repair` does), and apply what
   * recovery decides. Needs the directory lock like any writer.
   */
  fullRecovery?: boolean;
  /**
   * How often retention runs, as Kafka's `log.retention.check.interval.ms`
   * (default 300000; first opener of a directory wins).
   */
  retentionCheckIntervalMs?: number;
  /** The directory's group coordinator's settings (first opener wins; see `GroupCoordinatorOptions`). */
  groupCoordinator?: GroupCoordinatorOptions;
}

/** Kafka's broker settings of a group coordinator, camel-cased. */
export interface GroupCoordinatorOptions {
  /** `group.initial.rebalance.delay.ms`: ferrolog's default is 0 (Kafka's 3000). */
  initialRebalanceDelayMs?: number;
  /** `offsets.retention.minutes`: default 10080 (7 days), as Kafka. */
  offsetsRetentionMinutes?: number;
  /** `offsets.retention.check.interval.ms`: default 600000, as Kafka. */
  offsetsRetentionCheckIntervalMs?: number;
}

export interface CreateTopicOptions {
  /** Number of partitions (default 1). */
  partitions?: number;
  config?: TopicConfigEntries;
}

export interface TopicDescription {
  name: string;
  partitions: number;
  config: Record<string, string>;
}

export interface Watermarks {
  /** The first offset a reader may ask for. */
  logStartOffset: number;
  /** The offset the next record gets; readers see below it. */
  highWatermark: number;
  /** Every offset below this one is fsynced. */
  durableOffset: number;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** Broker-assigned time for LogAppendTime topics, else -1. */
  logAppendTime: number;
  logStartOffset: number;
  /** Resolves once the batch is fsynced, when the topic flushes `always`; else null. */
  durable: Promise<void> | null;
  /** True when an idempotent producer's retry matched a batch already in the log. */
  duplicate: boolean;
}

export interface ReadResult {
  /**
   * Whole RecordBatch v2 batches, back to back: a view over the mapped
   * segment (or a copy where the runtime refuses external buffers). The
   * first batch holds the requested offset and may start before it.
   */
  batches: Buffer;
  /** The offset to read next. */
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}

/** One segment of a partition, as `segments` lists it (the binding returns this shape as is). */
export interface SegmentDescription {
  baseOffset: number;
  /** One past the segment's last offset. */
  nextOffset: number;
  /** Bytes of valid batches in the `.log` (not its preallocated length). */
  sizeBytes: number;
  /** The largest batch max timestamp in the segment, or -1 when empty. */
  maxTimestamp: number;
  path: string;
  offsetIndexEntries: number;
  timeIndexEntries: number;
}

/**
 * The group coordinator of this log's directory (the one the broker
 * serves too). Only ferrolog's group client and admin use it.
 */
export const groupCalls = Symbol('ferrolog.groupCalls');
/** The native handle, for the in-process ACL calls (ts/admin/acls.ts). */
export const nativeHandle = Symbol('ferrolog.nativeHandle');

const EMPTY = Buffer.alloc(0);
/**
 * Where the native append writes its report (baseOffset, lastOffset,
 * logAppendTime, needsSync, logStartOffset, duplicate), read right after
 * the call: one array for every append instead of a new one each.
 */
const appendReport = new Float64Array(6);
const appendReportBytes = Buffer.from(appendReport.buffer);

/**
 * Topic lifecycle in this process: `created` and `deleted`, with
 * `(dataDir, topic)`. Regex subscriptions use it to see new topics at once.
 */
export const topicEvents = new EventEmitter();
topicEvents.setMaxListeners(0);

function entries(config: TopicConfigEntries | undefined, what: string): Record<string, string> | undefined {
  if (config === undefined) return undefined;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new InvalidArgumentError(`${what} must be an object of config names to values`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw new InvalidArgumentError(`${what} "${k}" must be a string or number`);
    }
    out[k] = String(v);
  }
  return out;
}

function checkName(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new InvalidArgumentError(`topic must be a non-empty string, not ${JSON.stringify(topic)}`);
  }
}

function checkPartition(partition: unknown): asserts partition is number {
  if (
    typeof partition !== 'number' ||
    !Number.isInteger(partition) ||
    partition < 0 ||
    partition > 0x7fffffff
  ) {
    throw new InvalidArgumentError(`partition must be a non-negative integer, not ${String(partition)}`);
  }
}

function checkOffset(name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidArgumentError(`${name} must be a non-negative safe integer, not ${String(v)}`);
  }
}

export class Log {
  private native: NativeLog | null;
  private readonly buffers = new Map<number, WeakRef<ArrayBuffer>>();
  private zeroCopySupported = true;
  /** The data directory, resolved. */
  readonly dataDir: string;

  private constructor(native: NativeLog) {
    this.native = native;
    this.dataDir = native.dataDir;
  }

  /**
   * Opens (creating if needed) the log in `dataDir`. Several opens of one
   * directory in a process share one engine; another process gets a
   * LockedError naming the holder.
   */
  static open(dataDir: string, options: LogOptions = {}): Log {
    if (typeof dataDir !== 'string' || dataDir.length === 0) {
      throw new InvalidArgumentError('dataDir must be a non-empty string');
    }
    if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean') {
      throw new InvalidArgumentError(`readOnly must be a boolean, not ${String(options.readOnly)}`);
    }
    try {
      // Checked before the directory is opened: a bad value opens nothing and
      // writes nothing (closing a half-configured log would finish in the
      // background, after this throws).
      if (options.groupCoordinator !== undefined) binding.groupCheckOptions(options.groupCoordinator);
      const native = binding.NativeLog.open(dataDir, {
        defaultConfig: entries(options.defaultTopicConfig, 'defaultTopicConfig'),
        readOnly: options.readOnly ?? false,
        fullRecovery: options.fullRecovery ?? false,
        retentionCheckIntervalMs: options.retentionCheckIntervalMs,
      });
      const log = new Log(native);
      if (options.groupCoordinator !== undefined && !log.readOnly) {
        try {
          binding.groupConfigure(native, options.groupCoordinator);
        } catch (e) {
          log.close().catch(() => undefined);
          throw e;
        }
      }
      return log;
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Checks a data directory with the engine's own recovery, every batch
   * CRC-checked, on a native worker thread. Without `repair` it opens
   * read-only (no lock, nothing written, so it works beside a running
   * writer) and reports what recovery would do; with `repair` it takes the
   * lock and applies it (nothing is deleted: what is cut is set aside).
   */
  static async verify(dataDir: string, options: { repair?: boolean } = {}): Promise<VerifyResult> {
    if (typeof dataDir !== 'string' || dataDir.length === 0) {
      throw new InvalidArgumentError('dataDir must be a non-empty string');
    }
    try {
      return await binding.verifyDataDir(dataDir, options.repair === true);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * The batches of one segment file from byte `position`, about `maxBytes`
   * of them (at least one) per call, as the engine's batch parser reads
   * them, CRC checked; with `records`, each sound batch's bytes for the
   * codec to decode. Runs on a native worker thread.
   */
  static async dumpSegment(
    path: string,
    options: { position?: number; maxBytes?: number; records?: boolean } = {},
  ): Promise<SegmentDump> {
    if (typeof path !== 'string' || path.length === 0) {
      throw new InvalidArgumentError('path must be a non-empty string');
    }
    try {
      return await binding.dumpSegment(
        path,
        options.position ?? 0,
        options.maxBytes ?? 4 << 20,
        options.records === true,
      );
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** True when opened with `readOnly`: no lock taken, nothing written. */
  get readOnly(): boolean {
    return this.openNative().readOnly;
  }

  /** See `nativeHandle`; typed unknown so the published declarations do not name the binding. */
  [nativeHandle](): unknown {
    return this.openNative();
  }

  /** See `groupCalls`. Each call is one native call returning a promise. */
  [groupCalls](): GroupCalls {
    const native = this.openNative();
    const wrap =
      <A extends unknown[], R>(f: (n: NativeLog, ...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        try {
          return await f(native, ...a);
        } catch (e) {
          throw fromNative(e);
        }
      };
    return {
      join: wrap(binding.groupJoin),
      sync: wrap(binding.groupSync),
      heartbeat: wrap(binding.groupHeartbeat),
      leave: wrap(binding.groupLeave),
      commit: wrap(binding.groupCommit),
      fetchOffsets: wrap(binding.groupFetchOffsets),
      describe: wrap(binding.groupDescribe),
      list: wrap(binding.groupList),
      delete: wrap(binding.groupDelete),
      deleteOffsets: wrap(binding.groupDeleteOffsets),
    };
  }

  /** False where the runtime refuses external buffers and reads copy instead. */
  get zeroCopy(): boolean {
    return this.zeroCopySupported;
  }

  get closed(): boolean {
    return this.native === null;
  }

  private openNative(): NativeLog {
    if (this.native === null) throw new ClosedError();
    return this.native;
  }

  createTopic(name: string, options: CreateTopicOptions = {}): void {
    checkName(name);
    const partitions = options.partitions ?? 1;
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new InvalidArgumentError(`partitions must be a positive integer, not ${String(partitions)}`);
    }
    const config = entries(options.config, 'config');
    try {
      this.openNative().createTopic(name, partitions, config);
    } catch (e) {
      throw fromNative(e);
    }
    topicEvents.emit('created', this.dataDir, name);
  }

  deleteTopic(name: string): void {
    checkName(name);
    try {
      this.openNative().deleteTopic(name);
    } catch (e) {
      throw fromNative(e);
    }
    topicEvents.emit('deleted', this.dataDir, name);
  }

  /** Grows `name` to `total` partitions. */
  createPartitions(name: string, total: number): void {
    checkName(name);
    if (!Number.isInteger(total) || total < 1)
      throw new InvalidArgumentError('total must be a positive integer');
    try {
      this.openNative().createPartitions(name, total);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Changes some configs of a topic, keeping the others. */
  alterTopicConfig(name: string, config: TopicConfigEntries): void {
    checkName(name);
    const e = entries(config, 'config') ?? {};
    try {
      this.openNative().alterTopicConfig(name, e);
    } catch (err) {
      throw fromNative(err);
    }
  }

  topics(): TopicDescription[] {
    try {
      return this.openNative().topics();
    } catch (e) {
      throw fromNative(e);
    }
  }

  hasTopic(name: string): boolean {
    return this.topics().some((t) => t.name === name);
  }

  watermarks(topic: string, partition: number): Watermarks {
    checkName(topic);
    checkPartition(partition);
    try {
      const w = this.openNative().watermarks(topic, partition);
      return { logStartOffset: w[0] as number, highWatermark: w[1] as number, durableOffset: w[2] as number };
    } catch (e) {
      throw fromNative(e);
    }
  }

  /**
   * Appends one RecordBatch v2 (from `encodeBatch`, or any Kafka client) and
   * returns its base offset. For a topic with `flush: 'always'` it returns
   * a Promise that resolves after the group-committed fdatasync instead.
   */
  append(topic: string, partition: number, batch: Uint8Array): number | Promise<number> {
    const r = this.appendWithMetadata(topic, partition, batch);
    if (r.durable === null) return r.baseOffset;
    return r.durable.then(() => r.baseOffset);
  }

  /** `append` with everything the engine reports, and the durability wait separate. */
  appendWithMetadata(topic: string, partition: number, batch: Uint8Array): AppendResult {
    checkName(topic);
    checkPartition(partition);
    if (!(batch instanceof Uint8Array)) {
      throw new InvalidArgumentError('batch must be a Buffer or Uint8Array holding one RecordBatch v2');
    }
    const native = this.openNative();
    const r = appendReport;
    try {
      native.append(topic, partition, batch, appendReportBytes);
    } catch (e) {
      throw fromNative(e);
    }
    const lastOffset = r[1] as number;
    let durable: Promise<void> | null = null;
    if (r[3] === 1) {
      durable = native.syncTo(topic, partition, lastOffset + 1).catch((e: unknown) => {
        throw fromNative(e);
      });
    }
    return {
      baseOffset: r[0] as number,
      lastOffset,
      logAppendTime: r[2] as number,
      logStartOffset: r[4] as number,
      durable,
      duplicate: r[5] === 1,
    };
  }

  /**
   * Beyond kafkajs: the records from `offset` as columns (`RecordColumns`:
   * one backing buffer, typed arrays of offsets, timestamps and key, value
   * and header positions, no object per record), read as `read` reads and
   * decoded in one pass. Records below `offset` in the first batch and
   * control records are left out; `records.nextOffset` is where to read on.
   */
  readRecords(
    topic: string,
    partition: number,
    offset: number,
    maxBytes = 1 << 20,
  ): { records: RecordColumns; highWatermark: number; logStartOffset: number } {
    const r = this.read(topic, partition, offset, maxBytes);
    const records = decodeColumns(r.batches, offset);
    return { records, highWatermark: r.highWatermark, logStartOffset: r.logStartOffset };
  }

  /**
   * Reads whole batches from the one holding `offset`, up to `maxBytes`
   * (at least one batch, as Kafka does). Reading at the high watermark
   * returns an empty `batches`.
   */
  read(topic: string, partition: number, offset: number, maxBytes = 1 << 20): ReadResult {
    checkName(topic);
    checkPartition(partition);
    checkOffset('offset', offset);
    checkOffset('maxBytes', maxBytes);
    const native = this.openNative();
    let r: number[];
    try {
      r = native.read(topic, partition, offset, maxBytes);
    } catch (e) {
      throw fromNative(e);
    }
    const length = r[2] as number;
    const result: ReadResult = {
      batches: EMPTY,
      nextOffset: r[3] as number,
      highWatermark: r[4] as number,
      logStartOffset: r[5] as number,
    };
    if (length === 0) return result;
    const mapId = r[0] as number;
    const position = r[1] as number;
    if (this.zeroCopySupported) {
      let ab = this.buffers.get(mapId)?.deref();
      if (ab === undefined || ab.byteLength < position + length) {
        const fresh = native.lastMapBuffer();
        if (fresh === null) {
          this.zeroCopySupported = false;
        } else {
          ab = fresh;
          this.buffers.set(mapId, new WeakRef(ab));
          this.sweep();
        }
      }
      if (ab !== undefined && this.zeroCopySupported) {
        result.batches = Buffer.from(ab, position, length);
        return result;
      }
    }
    result.batches = native.lastChunkCopy();
    return result;
  }

  /** Drops cache entries whose buffers were collected, now and then. */
  private sweep(): void {
    if (this.buffers.size < 64) return;
    for (const [id, ref] of this.buffers) {
      if (ref.deref() === undefined) this.buffers.delete(id);
    }
  }

  /**
   * Resolves to true once the high watermark passes `offset` (at once if it
   * already has), or to false after `timeoutMs`, when `signal` aborts, or
   * when the log closes. Holds no thread and no timer beyond the timeout.
   */
  waitForData(
    topic: string,
    partition: number,
    offset: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    checkName(topic);
    checkPartition(partition);
    checkOffset('offset', offset);
    checkOffset('timeoutMs', timeoutMs);
    let native: NativeLog;
    let w: { id: number; promise: Promise<boolean> };
    try {
      native = this.openNative();
      w = native.waitForData(topic, partition, offset);
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
    if (w.id === 0) return w.promise;
    const cancel = () => {
      try {
        native.cancelWait(topic, partition, w.id);
      } catch {
        // The partition is gone; its waiters were already told.
      }
    };
    if (signal?.aborted) cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    // setTimeout fires after 1 ms for delays past 2^31-1 ms (about 24.8
    // days): wait in steps of at most that.
    const TIMER_MAX_MS = 2 ** 31 - 1;
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      const left = deadline - Date.now();
      if (left <= 0) cancel();
      else timer = setTimeout(arm, Math.min(left, TIMER_MAX_MS));
    };
    timer = setTimeout(arm, Math.min(timeoutMs, TIMER_MAX_MS));
    return w.promise.finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
    });
  }

  /** Resolves once every offset below `offset` is fsynced (group commit, off the JS thread). */
  syncTo(topic: string, partition: number, offset: number): Promise<void> {
    try {
      return this.openNative()
        .syncTo(topic, partition, offset)
        .catch((e: unknown) => {
          throw fromNative(e);
        });
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
  }

  /**
   * `syncTo` for several partitions, asked for together: the engine's flusher
   * serves them in one round, their fdatasyncs side by side, so a send to
   * many partitions waits for about one fdatasync. One promise per entry.
   */
  syncToMany(targets: { topic: string; partition: number; offset: number }[]): Promise<void>[] {
    let promises: Promise<void>[];
    try {
      promises = this.openNative().syncToMany(
        targets.map((t) => t.topic),
        targets.map((t) => t.partition),
        targets.map((t) => t.offset),
      );
    } catch (e) {
      const err = fromNative(e);
      return targets.map(() => Promise.reject(err));
    }
    return promises.map((p) =>
      p.catch((e: unknown) => {
        throw fromNative(e);
      }),
    );
  }

  /** The partition count of `topic`, or -1 when it does not exist. */
  partitionCount(topic: string): number {
    checkName(topic);
    try {
      return this.openNative().partitionCount(topic);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** The largest batch `topic` accepts in bytes, or -1 when it does not exist. */
  batchBytesMax(topic: string): number {
    checkName(topic);
    try {
      return this.openNative().batchBytesMax(topic);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** A new producer id for an idempotent producer (epoch 0), unique across restarts. */
  allocateProducerId(): number {
    try {
      return this.openNative().allocateProducerId();
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Resolves once everything appended so far is fsynced. */
  flush(): Promise<void> {
    try {
      return this.openNative()
        .flush()
        .catch((e: unknown) => {
          throw fromNative(e);
        });
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
  }

  /**
   * Releases this handle; the last handle of a directory flushes and closes
   * the engine. Views handed out earlier stay valid.
   */
  async close(): Promise<void> {
    const native = this.native;
    if (native === null) return;
    this.native = null;
    try {
      await native.close();
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Advances the log start offset (Kafka's DeleteRecords); returns the new one. */
  deleteRecords(topic: string, partition: number, offset: number): number {
    checkName(topic);
    checkPartition(partition);
    checkOffset('offset', offset);
    try {
      return this.openNative().deleteRecords(topic, partition, offset);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** The first offset whose timestamp is at or after `timestampMs`, or null. */
  offsetForTimestamp(topic: string, partition: number, timestampMs: number): number | null {
    checkName(topic);
    checkPartition(partition);
    if (!Number.isSafeInteger(timestampMs)) throw new InvalidArgumentError('timestampMs must be an integer');
    try {
      const o = this.openNative().offsetForTimestamp(topic, partition, timestampMs);
      return o < 0 ? null : o;
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Runs retention now (it also runs in the background); returns segments deleted. */
  enforceRetention(): number {
    try {
      return this.openNative().enforceRetention();
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Starts a new segment (for tests and tools). */
  roll(topic: string, partition: number): void {
    checkName(topic);
    checkPartition(partition);
    try {
      this.openNative().roll(topic, partition);
    } catch (e) {
      throw fromNative(e);
    }
  }

  segments(topic: string, partition: number): SegmentDescription[] {
    checkName(topic);
    checkPartition(partition);
    try {
      return this.openNative().segments(topic, partition);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** What recovery repaired when the engine opened. */
  recoveryReports(): RecoveryReport[] {
    return this.openNative().recoveryReports();
  }
}
