/**
 * The kafkajs-compatible producer.
 *
 * `send` validates, serializes and partitions its messages synchronously
 * (a bad message rejects the call and nothing is queued), then queues them
 * per partition. Queued messages are coalesced: everything queued in the
 * same tick (linger 0), or within `lingerMs`, goes to the log as one
 * RecordBatch per partition, up to `batch.size` bytes: one native append per
 * batch. acks decide when the caller hears back:
 *
 * | acks        | `send` resolves                                               |
 * |-------------|---------------------------------------------------------------|
 * | 0           | once queued (returns `[]`, as kafkajs does)                   |
 * | 1           | once appended: in the page cache, survives a process crash    |
 * | -1 / 'all'  | once fsynced: the engine's group-committed fdatasync           |
 *
 * Memory is bounded: past `maxBufferedBytes` of queued messages, `send`
 * waits for room instead of growing the heap.
 */
import { EventEmitter } from 'node:events';
import type { Kafka } from '../client/kafka';
import type { Logger } from '../client/logger';
import { type RetryOptions, withRetry } from '../client/retry';
import {
  type CompressionSetting,
  CompressionTypes,
  compressRecords,
  parseCompression,
} from '../codec/compression';
import { encodeRecords, frameBatch, type IHeaders, type RecordInput, writeHeader } from '../codec/encoder';
import { HEADER_BYTES } from '../codec/format';
import {
  FerrologError,
  InvalidArgumentError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNotImplemented,
  KafkaJSPartialSendError,
  MessageTooLargeError,
} from '../errors';
import type { AppendResult, Log } from '../log';
import {
  checkEventName,
  PRODUCER_EVENTS as EVENTS,
  type ProducerEventMap,
  type ProducerEvents,
  type RemoveInstrumentationEventListener,
} from '../types/events';
import type { Transaction } from '../types/kafkajs';
import {
  BUILT_IN,
  type BuiltInPartitioner,
  type ICustomPartitioner,
  Partitioners,
  type PartitionMetadata,
} from './partitioners';
import type { RawValue, Serializer } from './serializers';

export type { InstrumentationEvent, ProducerEvents } from '../types/events';

/** -1 / 'all', 0 or 1; kafkajs types it `number`, so any number compiles and others are refused at run time. */
export type Acks = -1 | 0 | 1 | 'all' | number;

export interface Message<K = RawValue, V = RawValue> {
  key?: K | null;
  value: V | null;
  partition?: number;
  headers?: IHeaders;
  /** Milliseconds since the epoch, as a string (kafkajs) or a number. Default: now. */
  timestamp?: string | number;
}

export interface SerializerConfig<K, V> {
  key?: Serializer<K>;
  value?: Serializer<V>;
}

export interface ProducerRecord<K = RawValue, V = RawValue> {
  topic: string;
  messages: Message<K, V>[];
  acks?: Acks;
  timeout?: number;
  compression?: CompressionSetting;
  serializers?: SerializerConfig<K, V>;
}

export interface TopicMessages<K = RawValue, V = RawValue> {
  topic: string;
  messages: Message<K, V>[];
}

export interface ProducerBatch<K = RawValue, V = RawValue> {
  acks?: Acks;
  timeout?: number;
  compression?: CompressionSetting;
  topicMessages?: TopicMessages<K, V>[];
  serializers?: SerializerConfig<K, V>;
}

/** kafkajs' RecordMetadata; offsets are strings. */
export interface RecordMetadata {
  topicName: string;
  partition: number;
  errorCode: number;
  offset?: string;
  timestamp?: string;
  baseOffset?: string;
  logAppendTime?: string;
  logStartOffset?: string;
}

export interface ProducerConfig<K = RawValue, V = RawValue> {
  createPartitioner?: ICustomPartitioner;
  retry?: RetryOptions;
  /** Accepted for kafkajs compatibility; topic metadata is always current. */
  metadataMaxAge?: number;
  /** Create unknown topics on first send (default true), with the client's default partition count. */
  allowAutoTopicCreation?: boolean;
  idempotent?: boolean;
  /** The spelling tutorials use for `idempotent`. */
  idempotence?: boolean;
  /** Transactions are not implemented; setting this makes `connect` fail. */
  transactionalId?: string;
  transactionTimeout?: number;
  /** Accepted for kafkajs compatibility; appends are in order anyway. */
  maxInFlightRequests?: number;
  /** Default acks for every send (a send's own value wins). Default -1. */
  acks?: Acks;
  /** Default compression for every send (a send's own value wins). */
  compression?: CompressionSetting;
  /** Batching: `size` bytes per batch (default 1 MiB) and `lingerMs` (default 0). */
  batch?: { size?: number; lingerMs?: number };
  /** Most bytes of queued messages before `send` waits (default 32 MiB). */
  maxBufferedBytes?: number;
  /** Serializers for keys and values (default: Buffer/string pass-through). */
  serializers?: SerializerConfig<K, V>;
}

/** A serializer threw; `index` is the message's position in its `messages`. */
export class KafkaJSSerializationError extends KafkaJSNonRetriableError {
  readonly topic: string;
  readonly index: number;
  readonly field: 'key' | 'value';
  constructor(topic: string, index: number, field: 'key' | 'value', cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`message ${index} to topic "${topic}": cannot serialize its ${field}: ${why}`, {
      ...(cause instanceof Error ? { cause } : {}),
    });
    this.name = 'KafkaJSSerializationError';
    this.topic = topic;
    this.index = index;
    this.field = field;
  }
}

/** The topic does not exist and auto-creation is off. Retriable, as kafkajs treats this code: it may be created meanwhile. */
export class KafkaJSTopicNotFound extends KafkaJSError {
  readonly topic: string;
  readonly code = 'ERR_UNKNOWN_TOPIC_OR_PARTITION';
  readonly type = 'UNKNOWN_TOPIC_OR_PARTITION';
  constructor(topic: string) {
    super(`topic "${topic}" does not exist and allowAutoTopicCreation is false`, { retriable: true });
    this.name = 'KafkaJSTopicNotFound';
    this.topic = topic;
  }
}

const BATCH_SIZE_DEFAULT = 1024 * 1024;
const MAX_BUFFERED_BYTES_DEFAULT = 32 * 1024 * 1024;
/** Bytes a record costs beyond its key, value and headers (varints, attributes). */
const RECORD_OVERHEAD_BYTES = 21;

/** One `send`/`sendBatch` call in flight. */
interface SendOp {
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
 * The messages of one send for one queue. `stage` pushes them straight onto
 * the end of the queue's arrays (a send's parts are contiguous there), so a
 * send allocates no arrays of its own; a send that fails validation cuts
 * them off again, and one that must wait for room carries them in
 * `detached` until it joins.
 */
interface Part {
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
interface Queue {
  topic: string;
  partition: number;
  compression: CompressionTypes;
  records: RecordInput[];
  sizes: number[];
  parts: Part[];
  bytes: number;
  /** Whether it is in the producer's list of queues to flush. */
  active: boolean;
}

interface TopicInfo {
  partitions: number;
  batchBytesMax: number;
  metadata: PartitionMetadata[] | null;
  /** Queues by partition * CODECS + compression, made on first use. */
  queues: (Queue | undefined)[];
}

const CODECS = 5;

function normalizeAcks(acks: unknown): -1 | 0 | 1 {
  if (acks === undefined || acks === null || acks === -1 || acks === 'all') return -1;
  if (acks === 0 || acks === 1) return acks;
  throw new InvalidArgumentError(`acks must be -1, 'all', 0 or 1, not ${String(acks)}`);
}

function byteLength(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') return v.length;
  return (v as Uint8Array).byteLength;
}

function checkBytes(v: unknown, topic: string, index: number, field: 'key' | 'value'): void {
  if (v === null || v === undefined || typeof v === 'string' || v instanceof Uint8Array) return;
  throw new KafkaJSSerializationError(
    topic,
    index,
    field,
    new TypeError(`must be a Buffer, string or null, not ${typeof v}`),
  );
}

export class Producer<K = RawValue, V = RawValue> {
  readonly events: ProducerEvents = EVENTS;
  private readonly kafka: Kafka;
  private readonly log_: Logger;
  private readonly emitter = new EventEmitter();
  private readonly partitioner: ((args: Parameters<ReturnType<ICustomPartitioner>>[0]) => number) | null;
  private readonly hashKey: ((key: Uint8Array) => number) | null;
  private readonly allowAutoTopicCreation: boolean;
  private readonly idempotent: boolean;
  private readonly transactionalId: string | undefined;
  private readonly defaultAcks: -1 | 0 | 1;
  private readonly defaultCompression: CompressionTypes;
  private readonly batchBytes: number;
  private readonly lingerMs: number;
  private readonly maxBufferedBytes: number;
  private readonly retry: RetryOptions | undefined;
  private readonly keySerializer: Serializer<K> | undefined;
  private readonly valueSerializer: Serializer<V> | undefined;

  private state: 'disconnected' | 'connected' | 'disconnecting' = 'disconnected';
  private logHandle: Log | null = null;
  private producerId = -1;
  /** The next sequence per partition (`topic\0partition`), for an idempotent producer. */
  private readonly sequences = new Map<string, number>();
  /** Partitions with a batch that must land before any later one (see appendRange). */
  private readonly lanes = new Map<string, { tail: Promise<void>; pending: number }>();
  private readonly topics = new Map<string, TopicInfo>();
  private readonly sticky = new Map<string, number>();
  /** Queues holding records, in the order they got their first. */
  private active: Queue[] = [];
  private flushScheduled = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  private buffered = 0;
  private readonly spaceWaiters: { bytes: number; resolve: () => void }[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private requestId = 0;
  /** The bytes the last `stage` call staged (a field, to spare a result object per send). */
  private stagedBytes = 0;
  /** Whether `stage` is running (it calls serializers and partitioners, which may send). */
  private staging = false;

  constructor(kafka: Kafka, config: ProducerConfig<K, V>) {
    this.kafka = kafka;
    this.log_ = kafka.logger().namespace('Producer');
    const factory = config.createPartitioner ?? Partitioners.DefaultPartitioner;
    if (typeof factory !== 'function') throw new InvalidArgumentError('createPartitioner must be a function');
    const builtIn = (factory as Partial<BuiltInPartitioner>)[BUILT_IN];
    this.hashKey = builtIn ?? null;
    this.partitioner = builtIn ? null : factory();
    this.allowAutoTopicCreation = config.allowAutoTopicCreation ?? true;
    this.idempotent = config.idempotent ?? config.idempotence ?? false;
    this.transactionalId = config.transactionalId;
    this.defaultAcks = normalizeAcks(config.acks);
    this.defaultCompression = parseCompression(config.compression);
    this.batchBytes = config.batch?.size ?? BATCH_SIZE_DEFAULT;
    this.lingerMs = config.batch?.lingerMs ?? 0;
    this.maxBufferedBytes = config.maxBufferedBytes ?? MAX_BUFFERED_BYTES_DEFAULT;
    for (const [name, v] of [
      ['batch.size', this.batchBytes],
      ['batch.lingerMs', this.lingerMs],
      ['maxBufferedBytes', this.maxBufferedBytes],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0)
        throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    }
    this.retry = config.retry ?? kafka.retry;
    this.keySerializer = config.serializers?.key;
    this.valueSerializer = config.serializers?.value;
  }

  async connect(): Promise<void> {
    if (this.state === 'connected') return;
    if (this.transactionalId !== undefined) {
      throw new KafkaJSNonRetriableError(
        'transactions are not implemented by ferrolog yet (transactionalId was set)',
      );
    }
    this.logHandle = await this.kafka.openLogWithRetry(this.retry);
    if (this.idempotent) this.producerId = this.logHandle.allocateProducerId();
    this.state = 'connected';
    this.emit(EVENTS.CONNECT, null);
    if (this.idempotent) {
      // kafkajs' eosManager logs these once InitProducerId answers, after CONNECT.
      this.log_.debug('Transaction state transition UNINITIALIZED --> READY');
      this.log_.debug('Initialized producer id & epoch', { producerId: this.producerId, producerEpoch: 0 });
    }
  }

  /** Sends what is queued, waits for it, and releases the log. */
  async disconnect(): Promise<void> {
    if (this.state !== 'connected') return;
    this.state = 'disconnecting';
    this.flush();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.state = 'disconnected';
    const log = this.logHandle;
    this.logHandle = null;
    await log?.close();
    this.emit(EVENTS.DISCONNECT, null);
  }

  isIdempotent(): boolean {
    return this.idempotent;
  }

  logger(): Logger {
    return this.log_;
  }

  /** kafkajs' instrumentation events, the payload typed by the name; returns a function that removes the listener. */
  on<E extends keyof ProducerEventMap>(
    eventName: E,
    listener: (event: ProducerEventMap[E]) => void,
  ): RemoveInstrumentationEventListener<E> {
    checkEventName('producer', EVENTS, eventName);
    this.emitter.on(eventName, listener);
    return () => this.emitter.removeListener(eventName, listener);
  }

  /** Transactions are not implemented yet: rejects with KafkaJSNotImplemented. */
  transaction(): Promise<Transaction<K, V>> {
    return Promise.reject(new KafkaJSNotImplemented('transactions are not implemented by ferrolog yet'));
  }

  private emit(type: string, payload: unknown): void {
    if (this.emitter.listenerCount(type) === 0) return;
    try {
      this.emitter.emit(type, { id: String(this.requestId++), type, timestamp: Date.now(), payload });
    } catch (e) {
      // REQUEST is emitted after an append landed: a listener's throw there
      // would pass for a failed append and be retried into a duplicate.
      this.log_.error('an instrumentation event listener threw', {
        event: type,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  send(record: ProducerRecord<K, V>): Promise<RecordMetadata[]> {
    if (record === null || typeof record !== 'object') {
      return Promise.reject(new KafkaJSNonRetriableError('send needs { topic, messages }'));
    }
    // A ProducerRecord is itself a { topic, messages } entry.
    return this.sendTopics([record], record);
  }

  sendBatch(batch: ProducerBatch<K, V>): Promise<RecordMetadata[]> {
    if (batch === null || typeof batch !== 'object') {
      return Promise.reject(new KafkaJSNonRetriableError('sendBatch needs { topicMessages }'));
    }
    return this.sendTopics(batch.topicMessages, batch);
  }

  private sendTopics(
    topicMessages: TopicMessages<K, V>[] | undefined,
    batch: { acks?: Acks; compression?: CompressionSetting; serializers?: SerializerConfig<K, V> },
  ): Promise<RecordMetadata[]> {
    // A send from inside a serializer or partitioner would push its records
    // between the outer send's, which must stay contiguous: it runs next tick.
    if (this.staging) return Promise.resolve().then(() => this.sendTopics(topicMessages, batch));
    let op: SendOp;
    let promise: Promise<RecordMetadata[]>;
    let staged: Part[];
    let bytes: number;
    try {
      if (this.state === 'disconnected') throw new KafkaJSError('The producer is disconnected');
      if (this.state === 'disconnecting') {
        throw new KafkaJSNonRetriableError(
          "The producer is disconnecting; therefore, it can't safely accept messages anymore",
        );
      }
      const acks = normalizeAcks(batch.acks ?? this.defaultAcks);
      if (this.idempotent && acks !== -1) {
        throw new KafkaJSNonRetriableError(
          "Not requiring ack for all messages invalidates the idempotent producer's EoS guarantees",
        );
      }
      const compression =
        batch.compression === undefined ? this.defaultCompression : parseCompression(batch.compression);
      let resolve!: (r: RecordMetadata[]) => void;
      let reject!: (e: Error) => void;
      promise = new Promise<RecordMetadata[]>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      op = { remaining: 0, results: [], failures: null, resolve, reject, settled: false, acks };
      staged = this.stage(op, topicMessages, batch.serializers, compression);
      bytes = this.stagedBytes;
    } catch (e) {
      return Promise.reject(e);
    }
    // Wait for room, behind any earlier send already waiting, so sends keep
    // their order. A send larger than the whole buffer waits for it to empty.
    if (
      this.spaceWaiters.length > 0 ||
      (this.buffered > 0 && this.buffered + bytes > this.maxBufferedBytes)
    ) {
      detach(staged);
      return this.waitForRoom(bytes).then(() => this.commit(op, promise, staged, bytes));
    }
    this.buffered += bytes;
    return this.commit(op, promise, staged, bytes);
  }

  /**
   * Validates, serializes and partitions, pushing the records onto their
   * queues' ends; on a throw, cuts them off again, so nothing is queued.
   */
  private stage(
    op: SendOp,
    topicMessages: TopicMessages<K, V>[] | undefined,
    serializers: SerializerConfig<K, V> | undefined,
    compression: CompressionTypes,
  ): Part[] {
    const staged: Part[] = [];
    this.staging = true;
    try {
      this.stageInto(op, staged, topicMessages, serializers, compression);
    } catch (e) {
      // Later parts sit after earlier ones of the same queue: cut the newest first.
      for (let i = staged.length - 1; i >= 0; i--) {
        const part = staged[i] as Part;
        part.queue.records.length = part.start;
        part.queue.sizes.length = part.start;
      }
      throw e;
    } finally {
      this.staging = false;
    }
    return staged;
  }

  private stageInto(
    op: SendOp,
    staged: Part[],
    topicMessages: TopicMessages<K, V>[] | undefined,
    serializers: SerializerConfig<K, V> | undefined,
    compression: CompressionTypes,
  ): void {
    if (!Array.isArray(topicMessages)) throw new KafkaJSNonRetriableError('topicMessages must be an array');
    const keySer = serializers?.key ?? this.keySerializer;
    const valueSer = serializers?.value ?? this.valueSerializer;
    const now = Date.now();
    let total = 0;
    for (const tm of topicMessages) {
      const topic = tm?.topic;
      if (typeof topic !== 'string' || topic.length === 0)
        throw new KafkaJSNonRetriableError('Invalid topic');
      const messages = tm.messages;
      if (!Array.isArray(messages)) {
        throw new KafkaJSNonRetriableError(
          `Invalid messages array [${String(messages)}] for topic "${topic}"`,
        );
      }
      const info = this.topicInfo(topic, false);
      // This call's staged records per partition of this topic.
      // The first partition's group is kept aside; the lookup array is only
      // made when a second partition appears (most sends have one).
      let first: Part | undefined;
      let byPartition: (Part | undefined)[] | undefined;
      let keylessPartition = -1;
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i] as Message<K, V>;
        if (m === null || typeof m !== 'object')
          throw new KafkaJSNonRetriableError(`message ${i} to topic "${topic}" is not an object`);
        if (m.value === undefined) {
          throw new KafkaJSNonRetriableError(
            `Invalid message without value for topic "${topic}": ${JSON.stringify(m)}`,
          );
        }
        const headers = m.headers;
        if (
          headers !== undefined &&
          (headers === null || typeof headers !== 'object' || Array.isArray(headers))
        ) {
          throw new KafkaJSNonRetriableError(`message ${i} to topic "${topic}": headers must be an object`);
        }
        let key: RawValue;
        let value: RawValue;
        if (keySer === undefined) key = (m.key ?? null) as RawValue;
        else {
          try {
            key = keySer(m.key as K, { topic, headers: headers ?? {} });
          } catch (e) {
            throw new KafkaJSSerializationError(topic, i, 'key', e);
          }
        }
        if (valueSer === undefined) value = m.value as RawValue;
        else {
          try {
            value = valueSer(m.value as V, { topic, headers: headers ?? {} });
          } catch (e) {
            throw new KafkaJSSerializationError(topic, i, 'value', e);
          }
        }
        checkBytes(key, topic, i, 'key');
        checkBytes(value, topic, i, 'value');
        let timestamp = now;
        if (m.timestamp !== undefined && m.timestamp !== null) {
          timestamp = typeof m.timestamp === 'number' ? m.timestamp : Number(m.timestamp);
          if (!Number.isSafeInteger(timestamp)) {
            throw new KafkaJSNonRetriableError(
              `message ${i} to topic "${topic}": invalid timestamp ${String(m.timestamp)}`,
            );
          }
        }
        let partition: number;
        if (m.partition !== undefined && m.partition !== null) {
          partition = m.partition;
          if (!Number.isInteger(partition) || partition < 0 || partition >= info.partitions) {
            const fresh = this.topicInfo(topic, true);
            if (!Number.isInteger(partition) || partition < 0 || partition >= fresh.partitions) {
              throw new KafkaJSNonRetriableError(
                `message ${i} to topic "${topic}": partition ${String(partition)} does not exist (the topic has ${fresh.partitions})`,
              );
            }
          }
        } else if (this.hashKey !== null) {
          if (key !== null && key !== undefined) {
            partition =
              this.hashKey(typeof key === 'string' ? Buffer.from(key, 'utf8') : key) % info.partitions;
          } else {
            if (keylessPartition < 0) keylessPartition = this.nextSticky(topic, info.partitions);
            partition = keylessPartition;
          }
        } else {
          partition = this.customPartition(topic, info, m, key, value);
        }
        let size = byteLength(key) + byteLength(value) + RECORD_OVERHEAD_BYTES;
        if (headers !== undefined) {
          for (const hk of Object.keys(headers)) {
            const hv = headers[hk];
            size += hk.length + 10;
            // Checked here, not when the batch is encoded: by then the send's
            // other messages may be in batches of their own, already written.
            if (Array.isArray(hv)) {
              for (const x of hv) {
                if (x !== null && x !== undefined && typeof x !== 'string' && !(x instanceof Uint8Array))
                  badHeader(topic, i, hk, x);
                size += byteLength(x) + 10;
              }
            } else {
              if (hv !== null && hv !== undefined && typeof hv !== 'string' && !(hv instanceof Uint8Array))
                badHeader(topic, i, hk, hv);
              size += byteLength(hv);
            }
          }
        }
        // Strings were counted in UTF-16 units; check exactly near the limit.
        if (size + HEADER_BYTES > info.batchBytesMax / 3) {
          const exact = exactSize(key, value, headers);
          if (exact + HEADER_BYTES > info.batchBytesMax && compression === CompressionTypes.None) {
            throw new MessageTooLargeError(
              `message ${i} to topic "${topic}" needs a ${exact + HEADER_BYTES}-byte batch; the topic takes at most ${info.batchBytesMax}`,
            );
          }
          size = Math.max(size, exact);
        }
        let g: Part | undefined;
        if (first !== undefined && first.queue.partition === partition) g = first;
        else if (byPartition !== undefined) g = byPartition[partition];
        if (g === undefined) {
          const queue = this.queueFor(info, topic, partition, compression);
          g = {
            op,
            queue,
            start: queue.records.length,
            count: 0,
            bytes: 0,
            baseOffset: -1,
            done: 0,
            appended: 0,
            lost: 0,
            failed: null,
            detached: null,
          };
          if (first === undefined) first = g;
          else {
            if (byPartition === undefined) {
              byPartition = [];
              byPartition[first.queue.partition] = first;
            }
            byPartition[partition] = g;
          }
          staged.push(g);
        }
        g.queue.records.push({ key, value, headers: headers as IHeaders, timestamp });
        g.queue.sizes.push(size);
        g.count++;
        g.bytes += size;
        total += size;
      }
    }
    this.stagedBytes = total;
  }

  private queueFor(info: TopicInfo, topic: string, partition: number, compression: CompressionTypes): Queue {
    const at = partition * CODECS + compression;
    let q = info.queues[at];
    if (q === undefined) {
      q = { topic, partition, compression, records: [], sizes: [], parts: [], bytes: 0, active: false };
      info.queues[at] = q;
    }
    return q;
  }

  /** Queues staged parts; their bytes are already counted in `buffered`. */
  private commit(
    op: SendOp,
    promise: Promise<RecordMetadata[]>,
    staged: Part[],
    bytes: number,
  ): Promise<RecordMetadata[]> {
    if (this.state !== 'connected') {
      // Only a send that waited for room gets here, so its parts are detached.
      this.release(bytes);
      return Promise.reject(new KafkaJSError('The producer is disconnected'));
    }
    if (staged.length === 0) {
      this.release(bytes);
      return Promise.resolve([]);
    }
    let full = false;
    for (const part of staged) {
      const q = part.queue;
      if (part.detached !== null) {
        part.start = q.records.length;
        for (let i = 0; i < part.count; i++) {
          q.records.push(part.detached.records[i] as RecordInput);
          q.sizes.push(part.detached.sizes[i] as number);
        }
        part.detached = null;
      }
      q.parts.push(part);
      q.bytes += part.bytes;
      if (!q.active) {
        q.active = true;
        this.active.push(q);
      }
      op.remaining++;
      if (q.bytes >= this.batchBytes) full = true;
    }
    // While sends wait for room, flush at once rather than linger.
    if (this.spaceWaiters.length > 0 || this.buffered >= this.maxBufferedBytes) full = true;
    this.schedule(full);
    if (op.acks === 0) {
      // Errors of an acks=0 send are logged; the caller was told it was queued.
      promise.catch((e: Error) => this.log_.error('acks=0 send failed', { error: e.message }));
      return Promise.resolve([]);
    }
    return promise;
  }

  private schedule(full: boolean): void {
    if (this.lingerMs === 0 || full) {
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(() => this.flush());
      }
      return;
    }
    if (this.lingerTimer === null) {
      this.lingerTimer = setTimeout(() => this.flush(), this.lingerMs);
    }
  }

  /** Hands every queue to the log. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.lingerTimer !== null) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    if (this.active.length === 0) return;
    const queues = this.active;
    this.active = [];
    for (const q of queues) {
      // Take the queue's contents; new sends start it afresh.
      const taken: Queue = { ...q };
      q.records = [];
      q.sizes = [];
      q.parts = [];
      q.bytes = 0;
      q.active = false;
      const p = this.drain(taken);
      if (p !== null) {
        // Failures settle their sends; anything else reaching here is a bug,
        // logged rather than left to reject unobserved.
        const tracked = p
          .catch((e: Error) => this.log_.error('append failed unexpectedly', { error: e.message }))
          .finally(() => this.inFlight.delete(tracked));
        this.inFlight.add(tracked);
      }
    }
  }

  /** Appends a queue as batches of at most batch.size; null when done synchronously. */
  private drain(q: Queue): Promise<void> | null {
    let info: TopicInfo;
    try {
      info = this.topicInfo(q.topic, false);
    } catch (e) {
      this.failParts(q.parts, e as Error, 0, q.records.length);
      this.release(q.bytes);
      return null;
    }
    const limit = Math.max(1, Math.min(this.batchBytes, info.batchBytesMax - HEADER_BYTES));
    let from = 0;
    const pending: Promise<void>[] = [];
    while (from < q.records.length) {
      let to = from;
      let bytes = 0;
      while (to < q.records.length && (to === from || bytes + (q.sizes[to] as number) <= limit)) {
        bytes += q.sizes[to] as number;
        to++;
      }
      const p = this.appendRange(q, from, to, bytes);
      if (p !== null) pending.push(p);
      from = to;
    }
    return pending.length === 0 ? null : Promise.all(pending).then(() => undefined);
  }

  /**
   * Encodes records [from, to) of a queue as one batch and appends it.
   * Returns what settles once its parts are settled, or null when that
   * happened synchronously.
   *
   * Batches of one partition reach the log in the order they were made: one
   * that must wait (a retry after a retriable failure, an async codec) holds
   * the partition's lane, and later batches of that partition queue behind
   * it. That keeps the partition's order, and an idempotent producer's
   * sequence numbers, which are assigned just before each append.
   */
  private appendRange(q: Queue, from: number, to: number, bytes: number): Promise<void> | null {
    const parts = q.parts.filter((p) => p.start < to && p.start + p.count > from && !p.op.settled);
    let body: Buffer | Promise<Buffer>;
    let enc: ReturnType<typeof encodeRecords>;
    try {
      if (q.compression === CompressionTypes.None) {
        enc = encodeRecords(q.records, HEADER_BYTES, from, to);
        body = enc.buf;
      } else {
        enc = encodeRecords(q.records, 0, from, to);
        body = compressRecords(q.compression, enc.buf);
      }
    } catch (e) {
      this.failParts(parts, e as Error, from, to);
      this.release(bytes);
      return null;
    }
    const laneKey = `${q.topic}\u0000${q.partition}`;
    const lane = this.lanes.get(laneKey);
    if (lane === undefined && !(body instanceof Promise)) {
      const r = this.appendEncoded(q, parts, from, to, bytes, enc, body, laneKey);
      if (r.appending !== null) this.holdLane(laneKey, r.appending);
      return r.done;
    }
    let done: Promise<void> | null = null;
    const encoded = enc;
    const appending = (lane?.tail ?? Promise.resolve())
      .then(() => body)
      .then(
        (buf) => {
          const r = this.appendEncoded(q, parts, from, to, bytes, encoded, buf, laneKey);
          done = r.done;
          return r.appending ?? undefined;
        },
        (e: Error) => {
          this.failParts(parts, e, from, to);
          this.release(bytes);
        },
      );
    this.holdLane(laneKey, appending);
    return appending.then(() => done ?? undefined);
  }

  /** Makes later batches of a partition wait for `appending` (which never rejects). */
  private holdLane(laneKey: string, appending: Promise<void>): void {
    let lane = this.lanes.get(laneKey);
    if (lane === undefined) {
      lane = { tail: appending, pending: 0 };
      this.lanes.set(laneKey, lane);
    }
    const held = lane;
    held.tail = appending;
    held.pending++;
    void appending.then(() => {
      held.pending--;
      if (held.pending === 0 && this.lanes.get(laneKey) === held) this.lanes.delete(laneKey);
    });
  }

  /**
   * Frames an encoded batch (taking the partition's next sequence number)
   * and appends it; a retriable failure retries the same bytes, so the same
   * sequence. The sequence advances only once the log took the batch: a
   * rejected batch leaves it where it was, for the next batch to use.
   * `appending` settles when the append is over (null when it was
   * synchronous), `done` when the parts are settled (null when synchronous).
   */
  private appendEncoded(
    q: Queue,
    parts: Part[],
    from: number,
    to: number,
    bytes: number,
    enc: ReturnType<typeof encodeRecords>,
    buf: Buffer,
    laneKey: string,
  ): { appending: Promise<void> | null; done: Promise<void> | null } {
    const count = to - from;
    let baseSequence = -1;
    const producerId = this.producerId;
    if (this.idempotent) baseSequence = this.sequences.get(laneKey) ?? 0;
    const options = this.idempotent
      ? { producerId, producerEpoch: 0, baseSequence, attributes: q.compression }
      : { attributes: q.compression };
    const accepted = (r: AppendResult): Promise<void> | null => {
      // A batch framed before a change of producer id says nothing of the new id's sequences.
      if (this.idempotent && this.producerId === producerId)
        this.sequences.set(laneKey, (baseSequence + count) % 2 ** 31);
      return this.appended(q, parts, from, to, bytes, r);
    };
    const failed = (e: Error): void => {
      this.failParts(parts, e, from, to);
      this.release(bytes);
    };
    let batch: Buffer | undefined;
    let result: AppendResult;
    try {
      batch =
        q.compression === CompressionTypes.None
          ? writeHeader(buf, enc.count, enc.baseTimestamp, enc.maxTimestamp, options)
          : frameBatch(buf, enc.count, enc.baseTimestamp, enc.maxTimestamp, options);
      result = this.appendOnce(q, batch);
    } catch (e) {
      if (!(e instanceof KafkaJSError && e.retriable) || batch === undefined) {
        failed(e as Error);
        return { appending: null, done: null };
      }
      const framed = batch;
      const retried = withRetry(this.retry, () => this.appendOnce(q, framed), e);
      return {
        // Registered first, so the new identity is in place before the
        // batches waiting in this partition's lane are framed.
        appending: retried.then(
          () => undefined,
          () => this.abandonSequences(producerId),
        ),
        done: retried.then(accepted, failed).then(() => undefined),
      };
    }
    return { appending: null, done: accepted(result) };
  }

  /**
   * After a batch failed with a retriable error and ran out of retries, the
   * log may or may not hold it (an acknowledgement can be lost after the
   * write). Reusing its sequence could then make the log take the next
   * batch for a duplicate of it and drop it; skipping the sequence would be
   * out of order if it was not written. Kafka's answer (KIP-360) is a new
   * producer identity, whose sequences start afresh: this takes a new id.
   */
  private abandonSequences(producerId: number): void {
    if (!this.idempotent || this.producerId !== producerId || this.logHandle === null) return;
    try {
      this.producerId = this.logHandle.allocateProducerId();
      this.sequences.clear();
    } catch (e) {
      this.log_.error('cannot allocate a new producer id; keeping the old one', {
        error: (e as Error).message,
      });
    }
  }

  private appendOnce(q: Queue, batch: Buffer): AppendResult {
    const log = this.logHandle;
    if (log === null) throw new KafkaJSError('The producer is disconnected');
    const r = log.appendWithMetadata(q.topic, q.partition, batch);
    this.emit(EVENTS.REQUEST, {
      broker: 'ferrolog',
      clientId: this.kafka.clientId,
      correlationId: this.requestId,
      size: batch.byteLength,
      createdAt: Date.now(),
      sentAt: Date.now(),
      pendingDuration: 0,
      duration: 0,
      apiName: 'Produce',
      apiKey: 0,
      apiVersion: 7,
    });
    return r;
  }

  /** After an append: waits for fsync where acks need it, then settles the parts. */
  private appended(
    q: Queue,
    parts: Part[],
    from: number,
    to: number,
    bytes: number,
    r: AppendResult,
  ): Promise<void> | null {
    this.release(bytes);
    for (const p of parts) {
      const first = Math.max(from, p.start);
      if (p.baseOffset < 0) p.baseOffset = r.baseOffset + (first - from);
      p.appended += Math.min(to, p.start + p.count) - first;
    }
    const settle = (): void => {
      for (const p of parts) {
        const covered = Math.min(to, p.start + p.count) - Math.max(from, p.start);
        p.done += covered;
        if (p.done + p.lost === p.count) this.partSettled(p, r);
      }
    };
    const needsFsync = parts.some((p) => p.op.acks === -1);
    const log = this.logHandle;
    if (!needsFsync || log === null) {
      settle();
      return null;
    }
    const durable = r.durable ?? log.syncTo(q.topic, q.partition, r.lastOffset + 1);
    return durable.then(settle, (e: Error) => this.failParts(parts, e, from, to));
  }

  /** Once each record of a part succeeded or failed: the part's result. */
  private partSettled(p: Part, r: AppendResult | null): void {
    const op = p.op;
    if (op.settled) return;
    if (p.failed !== null || r === null) {
      if (op.failures === null) op.failures = [];
      op.failures.push(p);
      op.remaining--;
      if (op.remaining === 0) this.settleOp(op);
      return;
    }
    const q = p.queue;
    op.results.push({
      topicName: q.topic,
      partition: q.partition,
      errorCode: 0,
      baseOffset: String(p.baseOffset),
      logAppendTime: r.logAppendTime === -1 ? '-1' : String(r.logAppendTime),
      logStartOffset: r.logStartOffset === 0 ? '0' : String(r.logStartOffset),
    });
    op.remaining--;
    if (op.remaining === 0) this.settleOp(op);
  }

  /**
   * Records [from, to) of a queue failed with `e`. A part settles once each
   * of its records has (a later batch of it may still be on its way), and a
   * send once each of its parts has.
   */
  private failParts(parts: Part[], e: Error, from: number, to: number): void {
    for (const p of parts) {
      if (p.op.settled) continue;
      if (p.failed === null) p.failed = e;
      p.lost += Math.min(to, p.start + p.count) - Math.max(from, p.start);
      if (p.done + p.lost === p.count) this.partSettled(p, null);
    }
  }

  /**
   * Settles a send whose parts are all settled. When some failed, it rejects
   * with the first error as it is if the send wrote nothing, and otherwise
   * with a KafkaJSPartialSendError saying what was written and what not.
   */
  private settleOp(op: SendOp): void {
    op.settled = true;
    const byPartition = (a: RecordMetadata, b: RecordMetadata) =>
      a.topicName === b.topicName ? a.partition - b.partition : a.topicName < b.topicName ? -1 : 1;
    if (op.results.length > 1) op.results.sort(byPartition);
    const failures = op.failures;
    if (failures === null) {
      op.resolve(op.results);
      return;
    }
    const first = failures[0] as Part;
    if (op.results.length === 0 && failures.every((p) => p.appended === 0)) {
      op.reject(first.failed as Error);
      return;
    }
    const failed = failures.map((p) => {
      const error = p.failed as Error;
      const f: KafkaJSPartialSendError['failed'][number] = {
        topicName: p.queue.topic,
        partition: p.queue.partition,
        errorCode: kafkaErrorCode(error),
        error,
        written: p.appended,
      };
      if (p.appended > 0) f.baseOffset = String(p.baseOffset);
      return f;
    });
    failed.sort(byPartition);
    op.reject(new KafkaJSPartialSendError(op.results, failed));
  }

  /** Returns bytes to the buffer and admits waiting sends, in order, that now fit. */
  private release(bytes: number): void {
    this.buffered -= bytes;
    while (this.spaceWaiters.length > 0) {
      const w = this.spaceWaiters[0] as { bytes: number; resolve: () => void };
      if (this.buffered > 0 && this.buffered + w.bytes > this.maxBufferedBytes) break;
      this.spaceWaiters.shift();
      // Reserve the waiter's bytes now, so the next waiter sees them.
      this.buffered += w.bytes;
      w.resolve();
    }
  }

  private waitForRoom(bytes: number): Promise<void> {
    return new Promise((resolve) => {
      this.spaceWaiters.push({ bytes, resolve });
      // Make sure what is queued is on its way, so room appears.
      this.schedule(true);
    });
  }

  /** Partition count and batch limit, creating the topic if allowed. */
  private topicInfo(topic: string, refresh: boolean): TopicInfo {
    const cached = this.topics.get(topic);
    if (cached !== undefined && !refresh) return cached;
    const log = this.logHandle;
    if (log === null) throw new KafkaJSError('The producer is disconnected');
    let partitions = log.partitionCount(topic);
    if (partitions < 0) {
      if (!this.allowAutoTopicCreation) throw new KafkaJSTopicNotFound(topic);
      try {
        log.createTopic(topic, { partitions: this.kafka.defaultNumPartitions });
      } catch (e) {
        if (!(e instanceof FerrologError && e.code === 'ERR_TOPIC_EXISTS')) throw e;
      }
      partitions = log.partitionCount(topic);
    }
    const info: TopicInfo = {
      partitions,
      batchBytesMax: log.batchBytesMax(topic),
      metadata: null,
      queues: cached?.queues ?? [],
    };
    this.topics.set(topic, info);
    return info;
  }

  private nextSticky(topic: string, partitions: number): number {
    const next = ((this.sticky.get(topic) ?? Math.floor(Math.random() * partitions)) + 1) % partitions;
    this.sticky.set(topic, next);
    return next;
  }

  private customPartition(
    topic: string,
    info: TopicInfo,
    m: Message<K, V>,
    key: RawValue,
    value: RawValue,
  ): number {
    if (info.metadata === null || info.metadata.length !== info.partitions) {
      info.metadata = Array.from({ length: info.partitions }, (_, i) => ({
        partitionErrorCode: 0,
        partitionId: i,
        leader: 0,
        replicas: [0],
        isr: [0],
        offlineReplicas: [],
      }));
    }
    const message: Parameters<NonNullable<typeof this.partitioner>>[0]['message'] = {
      key: key as Buffer | string | null,
      value: value as Buffer | string | null,
    };
    if (m.headers !== undefined) message.headers = m.headers;
    if (m.timestamp !== undefined) message.timestamp = String(m.timestamp);
    const partition = (this.partitioner as NonNullable<typeof this.partitioner>)({
      topic,
      partitionMetadata: info.metadata,
      message,
    });
    if (!Number.isInteger(partition) || partition < 0 || partition >= info.partitions) {
      throw new KafkaJSNonRetriableError(
        `the partitioner chose partition ${String(partition)} of topic "${topic}", which has ${info.partitions}`,
      );
    }
    return partition;
  }
}

/** Takes a send's staged records off their queues' ends, to join later. */
function detach(staged: Part[]): void {
  for (let i = staged.length - 1; i >= 0; i--) {
    const part = staged[i] as Part;
    part.detached = {
      records: part.queue.records.splice(part.start),
      sizes: part.queue.sizes.splice(part.start),
    };
  }
}

function badHeader(topic: string, index: number, name: string, v: unknown): never {
  throw new KafkaJSNonRetriableError(
    `message ${index} to topic "${topic}": header "${name}" must be a string, Buffer or an array of them, not ${v === null ? 'null' : typeof v}`,
  );
}

/** Kafka's error code for a failed append, for per-partition results. */
function kafkaErrorCode(e: Error): number {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'number') return code;
  switch (code) {
    case 'ERR_IO':
    case 'ERR_FSYNC_FAILED':
    case 'ERR_SEGMENT_FULL':
      return 56; // KAFKA_STORAGE_ERROR
    case 'ERR_MESSAGE_TOO_LARGE':
      return 10;
    case 'ERR_CORRUPT':
    case 'ERR_INVALID_BATCH':
      return 2; // CORRUPT_MESSAGE
    case 'ERR_UNKNOWN_TOPIC_OR_PARTITION':
      return 3;
    case 'ERR_OUT_OF_ORDER_SEQUENCE':
      return 45;
    case 'ERR_INVALID_PRODUCER_EPOCH':
      return 47;
    default:
      return -1; // UNKNOWN_SERVER_ERROR
  }
}

function exactSize(key: RawValue, value: RawValue, headers: IHeaders | undefined): number {
  const len = (v: unknown): number =>
    v === null || v === undefined
      ? 0
      : typeof v === 'string'
        ? Buffer.byteLength(v, 'utf8')
        : (v as Uint8Array).byteLength;
  let size = len(key) + len(value) + RECORD_OVERHEAD_BYTES;
  if (headers !== undefined) {
    for (const hk of Object.keys(headers)) {
      const hv = headers[hk];
      const values = Array.isArray(hv) ? hv : [hv];
      for (const x of values) size += Buffer.byteLength(hk, 'utf8') + len(x) + 10;
    }
  }
  return size;
}
