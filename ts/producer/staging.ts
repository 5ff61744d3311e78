/**
 * Staging: everything a `send` does before its records are queued, all of it
 * synchronous, so that a bad message rejects the call and nothing is queued:
 * validation, serializers, the record's timestamp, partitioning (the
 * built-in partitioners' hash without a call per record, or a custom
 * partitioner) and the size estimate the accumulator's memory bound and the
 * sender's batch split use. kafkajs does this in messageProducer.js.
 *
 * Records are pushed straight onto the end of their queue's arrays; on a
 * throw they are cut off again.
 */
import { CompressionTypes } from '../codec/compression';
import type { IHeaders } from '../codec/encoder';
import { HEADER_BYTES } from '../codec/format';
import {
  InvalidArgumentError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  MessageTooLargeError,
} from '../errors';
import { BUILT_IN, type BuiltInPartitioner, type ICustomPartitioner, Partitioners } from './partitioners';
import { type Part, pushRecord, queueFor, type SendOp, type TopicInfo, truncateRecords } from './queue';
import type { RawValue, Serializer } from './serializers';
import type { ProducerTransport, TopicMetadata } from './transport';
import { KafkaJSSerializationError, type Message, type SerializerConfig, type TopicMessages } from './types';

/** No parts staged (yet): shared, never written to. */
const NO_PARTS: Part[] = [];

/** Bytes a record costs beyond its key, value and headers (varints, attributes). */
const RECORD_OVERHEAD_BYTES = 21;

export class Stager<K, V> {
  private readonly transport: ProducerTransport;
  private readonly partitioner: ((args: Parameters<ReturnType<ICustomPartitioner>>[0]) => number) | null;
  private readonly hashKey: ((key: Uint8Array | string) => number) | null;
  private readonly allowAutoTopicCreation: boolean;
  private readonly keySerializer: Serializer<K> | undefined;
  private readonly valueSerializer: Serializer<V> | undefined;
  private readonly topics = new Map<string, TopicInfo>();
  private readonly sticky = new Map<string, number>();
  /** The bytes the last `stage` call staged (a field, to spare a result object per send). */
  stagedBytes = 0;
  /** The parts the running `stage` call made so far. */
  private parts: Part[] = NO_PARTS;
  /** Whether `stage` is running (it calls serializers and partitioners, which may send). */
  staging = false;

  constructor(
    transport: ProducerTransport,
    createPartitioner: ICustomPartitioner | undefined,
    allowAutoTopicCreation: boolean,
    serializers: SerializerConfig<K, V> | undefined,
  ) {
    this.transport = transport;
    const factory = createPartitioner ?? Partitioners.DefaultPartitioner;
    if (typeof factory !== 'function') throw new InvalidArgumentError('createPartitioner must be a function');
    const builtIn = (factory as Partial<BuiltInPartitioner>)[BUILT_IN];
    this.hashKey = builtIn ?? null;
    this.partitioner = builtIn ? null : factory();
    this.allowAutoTopicCreation = allowAutoTopicCreation;
    this.keySerializer = serializers?.key;
    this.valueSerializer = serializers?.value;
  }

  /** Forgets what is known of topics (a reconnect asks again). */
  reset(): void {
    this.topics.clear();
  }

  /**
   * Makes sure every topic of a send is known: null when they are (the
   * common case, no promise made), else a promise that settles once they
   * are, or rejects as the transport did (an unknown topic, say).
   */
  prepare(topicMessages: TopicMessages<K, V>[] | undefined): Promise<void> | null {
    if (!Array.isArray(topicMessages)) return null;
    let waits: Promise<unknown>[] | null = null;
    for (const tm of topicMessages) {
      const topic = tm?.topic;
      if (typeof topic !== 'string' || topic.length === 0 || this.topics.has(topic)) continue;
      const m = this.transport.topic(topic, this.allowAutoTopicCreation, false);
      if (m instanceof Promise) {
        if (waits === null) waits = [];
        waits.push(m.then((x) => this.learn(topic, x)));
      } else this.learn(topic, m);
    }
    return waits === null ? null : Promise.all(waits).then(() => undefined);
  }

  private learn(topic: string, m: TopicMetadata): TopicInfo {
    const cached = this.topics.get(topic);
    if (cached !== undefined) {
      // In place: queues hold the object.
      cached.partitions = m.partitions;
      cached.batchBytesMax = m.batchBytesMax;
      return cached;
    }
    const info: TopicInfo = {
      partitions: m.partitions,
      batchBytesMax: m.batchBytesMax,
      metadata: null,
      queues: [],
    };
    this.topics.set(topic, info);
    return info;
  }

  /** The topic's info; asks the transport when a synchronous answer is possible. */
  private known(topic: string): TopicInfo {
    const cached = this.topics.get(topic);
    if (cached !== undefined) return cached;
    const m = this.transport.topic(topic, this.allowAutoTopicCreation, false);
    if (m instanceof Promise) {
      m.catch(() => undefined);
      throw new KafkaJSError(`topic "${topic}" is not known yet`);
    }
    return this.learn(topic, m);
  }

  /** Current metadata when it can be had synchronously; else what is known, with a refresh on its way. */
  private refreshed(topic: string, info: TopicInfo): TopicInfo {
    const m = this.transport.topic(topic, this.allowAutoTopicCreation, true);
    if (m instanceof Promise) {
      m.then(
        (x) => this.learn(topic, x),
        () => undefined,
      );
      return info;
    }
    return this.learn(topic, m);
  }

  /**
   * Validates, serializes and partitions, pushing the records onto their
   * queues' ends; on a throw, cuts them off again, so nothing is queued.
   * `stagedBytes` is what the call staged.
   */
  stage(
    op: SendOp,
    topicMessages: TopicMessages<K, V>[] | undefined,
    serializers: SerializerConfig<K, V> | undefined,
    compression: CompressionTypes,
  ): Part[] {
    this.parts = NO_PARTS;
    this.staging = true;
    try {
      this.stageInto(op, topicMessages, serializers, compression);
    } catch (e) {
      const staged = this.parts;
      this.parts = NO_PARTS;
      // Later parts sit after earlier ones of the same queue: cut the newest first.
      for (let i = staged.length - 1; i >= 0; i--) {
        const part = staged[i] as Part;
        truncateRecords(part.queue.records, part.start);
      }
      throw e;
    } finally {
      this.staging = false;
    }
    const staged = this.parts;
    this.parts = NO_PARTS;
    return staged;
  }

  private stageInto(
    op: SendOp,
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
      const info = this.known(topic);
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
            const fresh = this.refreshed(topic, info);
            if (!Number.isInteger(partition) || partition < 0 || partition >= fresh.partitions) {
              throw new KafkaJSNonRetriableError(
                `message ${i} to topic "${topic}": partition ${String(partition)} does not exist (the topic has ${fresh.partitions})`,
              );
            }
          }
        } else if (this.hashKey !== null) {
          if (key !== null && key !== undefined) {
            // A string key is hashed as its UTF-8 bytes without a Buffer made for it.
            partition = this.hashKey(key) % info.partitions;
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
          const queue = queueFor(info, topic, partition, compression);
          g = {
            op,
            queue,
            start: queue.records.n,
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
          // Most sends have one part: an exact one-element array, not a
          // pushed-into empty one (which reserves room for 17).
          if (this.parts === NO_PARTS) this.parts = [g];
          else this.parts.push(g);
        }
        pushRecord(g.queue.records, key, value, headers as IHeaders | undefined, timestamp, size);
        g.count++;
        g.bytes += size;
        total += size;
      }
    }
    this.stagedBytes = total;
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

function badHeader(topic: string, index: number, name: string, v: unknown): never {
  throw new KafkaJSNonRetriableError(
    `message ${index} to topic "${topic}": header "${name}" must be a string, Buffer or an array of them, not ${v === null ? 'null' : typeof v}`,
  );
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
