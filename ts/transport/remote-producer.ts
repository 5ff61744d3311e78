/**
 * The producer over the remote transport: kafkajs' API, with batching, linger,
 * compression, partitioning and idempotent sequences here in TypeScript; each
 * flush hands the encoded RecordBatches of every partition to the native client
 * in one call, and the client sends them as they are to the partition leaders.
 */
import { EventEmitter } from 'node:events';
import type { Kafka } from '../client/kafka';
import type { Logger } from '../client/logger';
import { CompressionTypes, compressRecords, parseCompression } from '../codec/compression';
import { encodeRecords, frameBatch, type RecordInput, writeHeader } from '../codec/encoder';
import { HEADER_BYTES } from '../codec/format';
import {
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNotImplemented,
  KafkaJSPartialSendError,
} from '../errors';
import { type ICustomPartitioner, Partitioners, type PartitionMetadata } from '../producer/partitioners';
import type {
  Acks,
  InstrumentationEvent,
  Message,
  ProducerBatch,
  ProducerConfig,
  ProducerEvents,
  ProducerRecord,
  RecordMetadata,
  TopicMessages,
} from '../producer/producer';
import { KafkaJSTopicNotFound } from '../producer/producer';
import type { RawValue } from '../producer/serializers';
import { call, kafkaError } from './kafka-errors';
import type { NativeRemoteClient, RemoteProduceResult } from './native-remote';
import type { RemoteTransport } from './remote';

const EVENTS = {
  CONNECT: 'producer.connect',
  DISCONNECT: 'producer.disconnect',
  REQUEST: 'producer.network.request',
  REQUEST_TIMEOUT: 'producer.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'producer.network.request_queue_size',
} as const;

const BATCH_SIZE_DEFAULT = 1024 * 1024;
const SEQUENCE_LIMIT = 2 ** 31;

function normalizeAcks(acks: unknown): -1 | 0 | 1 {
  if (acks === 'all' || acks === -1) return -1;
  if (acks === 0 || acks === 1) return acks;
  throw new KafkaJSNonRetriableError(`acks must be -1, 0, 1 or 'all', not ${String(acks)}`);
}

/** A send's share of one partition: where its records sit in the flushed batch. */
interface Share {
  op: SendOp;
  topic: string;
  partition: number;
  records: RecordInput[];
}

interface SendOp {
  acks: -1 | 0 | 1;
  results: RecordMetadata[];
  failed: KafkaJSPartialSendError['failed'];
  pending: number;
  resolve: (r: RecordMetadata[]) => void;
  reject: (e: Error) => void;
}

interface PartitionQueue {
  topic: string;
  partition: number;
  acks: -1 | 0 | 1;
  compression: CompressionTypes;
  shares: Share[];
}

export class RemoteProducer<K = RawValue, V = RawValue> {
  readonly events: ProducerEvents = EVENTS;
  private readonly kafka: Kafka;
  private readonly transport: RemoteTransport;
  private readonly log_: Logger;
  private readonly emitter = new EventEmitter();
  private readonly partitioner: ReturnType<ICustomPartitioner>;
  private readonly config: ProducerConfig<K, V>;
  private readonly idempotent: boolean;
  private readonly allowAutoTopicCreation: boolean;
  private readonly defaultAcks: -1 | 0 | 1;
  private readonly defaultCompression: CompressionTypes;
  private readonly batchBytes: number;
  private readonly lingerMs: number;
  private client: NativeRemoteClient | null = null;
  private producerId = -1;
  private producerEpoch = -1;
  private readonly sequences = new Map<string, number>();
  private readonly partitionCounts = new Map<string, Promise<number>>();
  private queues = new Map<string, PartitionQueue>();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushScheduled = false;
  /** Idempotent flushes go one after the other, so sequences reach each partition in order. */
  private tail: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<void>>();
  private requestId = 0;

  constructor(kafka: Kafka, transport: RemoteTransport, config: ProducerConfig<K, V> = {}) {
    this.kafka = kafka;
    this.transport = transport;
    this.config = config;
    this.log_ = kafka.logger().namespace('Producer');
    const factory = config.createPartitioner ?? Partitioners.DefaultPartitioner;
    if (typeof factory !== 'function')
      throw new KafkaJSNonRetriableError('createPartitioner must be a function');
    this.partitioner = factory();
    this.idempotent = config.idempotent ?? config.idempotence ?? false;
    this.allowAutoTopicCreation = config.allowAutoTopicCreation ?? true;
    this.defaultAcks = normalizeAcks(config.acks ?? -1);
    this.defaultCompression = parseCompression(config.compression);
    this.batchBytes = config.batch?.size ?? BATCH_SIZE_DEFAULT;
    this.lingerMs = config.batch?.lingerMs ?? 0;
    if (!Number.isSafeInteger(this.batchBytes) || this.batchBytes < 1)
      throw new KafkaJSNonRetriableError('batch.size must be a positive integer');
    if (!Number.isSafeInteger(this.lingerMs) || this.lingerMs < 0)
      throw new KafkaJSNonRetriableError('batch.lingerMs must be a non-negative integer');
    if (this.idempotent && this.defaultAcks !== -1)
      throw new KafkaJSNonRetriableError('an idempotent producer needs acks -1 (all)');
  }

  async connect(): Promise<void> {
    if (this.client !== null) return;
    if (this.config.transactionalId !== undefined)
      throw new KafkaJSNonRetriableError(
        'transactions are not implemented by ferrolog yet (transactionalId was set)',
      );
    const client = await this.transport.acquire();
    try {
      if (this.idempotent) {
        const id = await call(() => client.initProducerId(null));
        this.producerId = id.producerId;
        this.producerEpoch = id.producerEpoch;
      }
    } catch (e) {
      await this.transport.release();
      throw e;
    }
    this.client = client;
    this.emit(EVENTS.CONNECT, null);
  }

  async disconnect(): Promise<void> {
    if (this.client === null) return;
    this.flushNow();
    await Promise.allSettled([...this.inFlight]);
    this.client = null;
    await this.transport.release();
    this.emit(EVENTS.DISCONNECT, null);
  }

  isIdempotent(): boolean {
    return this.idempotent;
  }

  logger(): Logger {
    return this.log_;
  }

  transaction(): Promise<never> {
    return Promise.reject(new KafkaJSNotImplemented('transactions are not implemented by ferrolog yet'));
  }

  on<T>(eventName: string, listener: (event: InstrumentationEvent<T>) => void): () => void {
    const valid = Object.values(EVENTS) as string[];
    if (!valid.includes(eventName))
      throw new KafkaJSNonRetriableError(`Event name should be one of ${Object.keys(EVENTS).join(', ')}`);
    this.emitter.on(eventName, listener);
    return () => this.emitter.removeListener(eventName, listener);
  }

  private emit(type: string, payload: unknown): void {
    if (this.emitter.listenerCount(type) === 0) return;
    try {
      this.emitter.emit(type, { id: String(this.requestId++), type, timestamp: Date.now(), payload });
    } catch (e) {
      this.log_.error('an instrumentation event listener threw', {
        event: type,
        error: (e as Error).message,
      });
    }
  }

  send(record: ProducerRecord<K, V>): Promise<RecordMetadata[]> {
    if (record === null || typeof record !== 'object')
      return Promise.reject(new KafkaJSNonRetriableError('send needs { topic, messages }'));
    return this.sendTopics([record], record);
  }

  sendBatch(batch: ProducerBatch<K, V>): Promise<RecordMetadata[]> {
    if (batch === null || typeof batch !== 'object')
      return Promise.reject(new KafkaJSNonRetriableError('sendBatch needs { topicMessages }'));
    return this.sendTopics(batch.topicMessages ?? [], batch);
  }

  /** The topic's partition count from the cluster's metadata (cached), creating it when allowed. */
  private partitionCount(client: NativeRemoteClient, topic: string): Promise<number> {
    let p = this.partitionCounts.get(topic);
    if (p === undefined) {
      p = (async () => {
        for (let attempt = 0; attempt < 20; attempt++) {
          const m = await call(() => client.metadata([topic]));
          const t = m.topics.find((x) => x.name === topic);
          if (t !== undefined && t.errorCode === 0 && t.partitions.length > 0) return t.partitions.length;
          if (t !== undefined && t.errorCode !== 0 && t.errorCode !== 3 && t.errorCode !== 5)
            throw kafkaError(t.errorCode, null);
          if ((t === undefined || t.errorCode === 3) && attempt === 0) {
            if (!this.allowAutoTopicCreation) throw new KafkaJSTopicNotFound(topic);
            const r = await call(() =>
              client.createTopics(
                [{ name: topic, numPartitions: this.kafka.defaultNumPartitions, replicationFactor: -1 }],
                30_000,
                false,
              ),
            );
            const code = r[0]?.errorCode ?? 0;
            if (code !== 0 && code !== 36) throw kafkaError(code, r[0]?.errorMessage);
          }
          await new Promise((res) => setTimeout(res, 50 * (attempt + 1)));
        }
        throw kafkaError(5, `topic ${topic} has no leaders`);
      })();
      this.partitionCounts.set(topic, p);
      p.catch(() => this.partitionCounts.delete(topic));
    }
    return p;
  }

  private async sendTopics(
    topicMessages: TopicMessages<K, V>[],
    batch: ProducerBatch<K, V> | ProducerRecord<K, V>,
  ): Promise<RecordMetadata[]> {
    const client = this.client;
    if (client === null) throw new KafkaJSError('The producer is disconnected');
    if (!Array.isArray(topicMessages)) throw new KafkaJSNonRetriableError('topicMessages must be an array');
    const acks = normalizeAcks(batch.acks ?? this.defaultAcks);
    if (this.idempotent && acks !== -1)
      throw new KafkaJSNonRetriableError('an idempotent producer needs acks -1 (all)');
    const compression =
      batch.compression === undefined ? this.defaultCompression : parseCompression(batch.compression);
    const keySer = batch.serializers?.key ?? this.config.serializers?.key;
    const valueSer = batch.serializers?.value ?? this.config.serializers?.value;
    const shares = new Map<string, Share>();
    let resolve!: (r: RecordMetadata[]) => void;
    let reject!: (e: Error) => void;
    const done = new Promise<RecordMetadata[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const op: SendOp = { acks, results: [], failed: [], pending: 0, resolve, reject };
    const now = Date.now();
    for (const tm of topicMessages) {
      if (tm === null || typeof tm.topic !== 'string' || tm.topic.length === 0)
        throw new KafkaJSNonRetriableError(`Invalid topic ${String(tm?.topic)}`);
      if (!Array.isArray(tm.messages))
        throw new KafkaJSNonRetriableError(`Invalid messages array for ${tm.topic}`);
      const n = await this.partitionCount(client, tm.topic);
      const partitionMetadata: PartitionMetadata[] = Array.from({ length: n }, (_, partitionId) => ({
        partitionErrorCode: 0,
        partitionId,
        leader: 0,
        replicas: [],
        isr: [],
      }));
      tm.messages.forEach((m: Message<K, V>, i) => {
        if (m === null || typeof m !== 'object')
          throw new KafkaJSNonRetriableError(`message ${i} is not an object`);
        const ctx = { topic: tm.topic, headers: m.headers ?? {} };
        const key = keySer ? keySer(m.key as K, ctx) : (m.key as RawValue | undefined);
        const value = valueSer ? valueSer(m.value as V, ctx) : (m.value as RawValue);
        let partition = m.partition;
        if (partition === undefined || partition === null) {
          partition = this.partitioner({
            topic: tm.topic,
            partitionMetadata,
            message: {
              key: key as Buffer | string | null,
              value: value as Buffer | string | null,
              headers: m.headers ?? {},
            },
          });
        }
        if (!Number.isInteger(partition) || partition < 0 || partition >= n)
          throw kafkaError(3, `partition ${partition} does not exist`, { topic: tm.topic, partition });
        const ts = m.timestamp === undefined ? now : Number(m.timestamp);
        if (!Number.isSafeInteger(ts)) throw new KafkaJSNonRetriableError(`message ${i}: invalid timestamp`);
        const k = `${tm.topic}\u0000${partition}`;
        let share = shares.get(k);
        if (share === undefined) {
          share = { op, topic: tm.topic, partition, records: [] };
          shares.set(k, share);
        }
        const rec: RecordInput = { key: key ?? null, value: value ?? null, timestamp: ts };
        if (m.headers !== undefined) rec.headers = m.headers;
        share.records.push(rec);
      });
    }
    if (shares.size === 0) return [];
    op.pending = shares.size;
    for (const share of shares.values()) {
      const qk = `${share.topic}\u0000${share.partition}\u0000${acks}\u0000${compression}`;
      let q = this.queues.get(qk);
      if (q === undefined) {
        q = { topic: share.topic, partition: share.partition, acks, compression, shares: [] };
        this.queues.set(qk, q);
      }
      q.shares.push(share);
    }
    this.schedule();
    return done;
  }

  private schedule(): void {
    if (this.lingerMs === 0) {
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => this.flushNow());
    } else if (this.flushTimer === null) {
      this.flushTimer = setTimeout(() => this.flushNow(), this.lingerMs);
    }
  }

  /** Encodes every queue (one batch per partition, split at batch.size) and sends them in one native call per acks. */
  private flushNow(): void {
    this.flushScheduled = false;
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.queues.size === 0) return;
    const queues = [...this.queues.values()];
    this.queues = new Map();
    for (const acks of [-1, 0, 1] as const) {
      const qs = queues.filter((q) => q.acks === acks);
      if (qs.length === 0) continue;
      const run = (): Promise<void> => this.produce(acks, qs);
      const p = this.idempotent ? this.tail.then(run) : run();
      if (this.idempotent) this.tail = p.catch(() => undefined);
      const tracked = p
        .catch((e: Error) => this.log_.error('produce failed unexpectedly', { error: e.message }))
        .finally(() => this.inFlight.delete(tracked));
      this.inFlight.add(tracked);
    }
  }

  private async produce(acks: -1 | 0 | 1, qs: PartitionQueue[]): Promise<void> {
    const client = this.client;
    type Planned = { q: PartitionQueue; shares: Share[]; records: RecordInput[]; sequence: number };
    const planned: Planned[] = [];
    const frames: { topic: string; partition: number; records: Buffer }[] = [];
    for (const q of qs) {
      // Split at batch.size (by a rough per-record size; at least one share per batch).
      let cur: Share[] = [];
      let bytes = 0;
      const groups: Share[][] = [];
      for (const s of q.shares) {
        const size = s.records.reduce((a, r) => a + 32 + len(r.key) + len(r.value), 0);
        if (cur.length > 0 && bytes + size > this.batchBytes) {
          groups.push(cur);
          cur = [];
          bytes = 0;
        }
        cur.push(s);
        bytes += size;
      }
      if (cur.length > 0) groups.push(cur);
      for (const shares of groups) {
        const records = shares.flatMap((s) => s.records);
        const laneKey = `${q.topic}\u0000${q.partition}`;
        let sequence = -1;
        if (this.idempotent) {
          sequence = this.sequences.get(laneKey) ?? 0;
          this.sequences.set(laneKey, (sequence + records.length) % SEQUENCE_LIMIT);
        }
        try {
          frames.push({
            topic: q.topic,
            partition: q.partition,
            records: await this.encode(q, records, sequence),
          });
          planned.push({ q, shares, records, sequence });
        } catch (e) {
          for (const s of shares) this.fail(s, e as Error);
        }
      }
    }
    if (frames.length === 0) return;
    if (client === null) {
      for (const p of planned)
        for (const s of p.shares) this.fail(s, new KafkaJSError('The producer is disconnected'));
      return;
    }
    let results: RemoteProduceResult[];
    try {
      results = await call(() => client.produce(acks, 30_000, frames));
    } catch (e) {
      // The batches' fate is unknown: an idempotent producer takes a new epoch (KIP-360).
      this.bumpEpoch();
      for (const p of planned) for (const s of p.shares) this.fail(s, e as Error);
      return;
    }
    this.emit(EVENTS.REQUEST, { broker: 'remote', apiName: 'Produce', size: frames.length });
    planned.forEach((p, i) => {
      const r = results[i];
      if (r === undefined || r.errorCode !== 0) {
        if (this.idempotent) this.bumpEpoch();
        const code = r?.errorCode ?? -1;
        for (const s of p.shares)
          this.fail(s, kafkaError(code, r?.errorMessage, { topic: s.topic, partition: s.partition }));
        return;
      }
      let at = r.baseOffset;
      for (const s of p.shares) {
        if (s.op.acks !== 0) {
          s.op.results.push({
            topicName: s.topic,
            partition: s.partition,
            errorCode: 0,
            baseOffset: String(at),
            logAppendTime: String(r.logAppendTime),
            logStartOffset: String(r.logStartOffset),
          });
        }
        at += s.records.length;
        this.settle(s.op);
      }
    });
  }

  /** KIP-360: after an unknown or failed outcome, a new epoch restarts every sequence at 0. */
  private bumpEpoch(): void {
    if (!this.idempotent) return;
    this.sequences.clear();
    if (this.producerEpoch < 32_767) {
      this.producerEpoch++;
      return;
    }
    const client = this.client;
    if (client === null) return;
    this.tail = this.tail.then(async () => {
      const id = await call(() => client.initProducerId(null));
      this.producerId = id.producerId;
      this.producerEpoch = id.producerEpoch;
    });
  }

  private async encode(q: PartitionQueue, records: RecordInput[], baseSequence: number): Promise<Buffer> {
    const options = this.idempotent
      ? {
          producerId: this.producerId,
          producerEpoch: this.producerEpoch,
          baseSequence,
          attributes: q.compression,
        }
      : { attributes: q.compression };
    if (q.compression === CompressionTypes.None) {
      const enc = encodeRecords(records, HEADER_BYTES);
      return writeHeader(enc.buf, enc.count, enc.baseTimestamp, enc.maxTimestamp, options);
    }
    const enc = encodeRecords(records, 0);
    const body = await compressRecords(q.compression, enc.buf);
    return frameBatch(body, enc.count, enc.baseTimestamp, enc.maxTimestamp, options);
  }

  private fail(s: Share, e: Error): void {
    const code = (e as { code?: unknown }).code;
    s.op.failed.push({
      topicName: s.topic,
      partition: s.partition,
      errorCode: typeof code === 'number' ? code : -1,
      error: e,
      written: 0,
    });
    this.settle(s.op);
  }

  private settle(op: SendOp): void {
    op.pending--;
    if (op.pending > 0) return;
    if (op.failed.length === 0) {
      op.resolve(
        op.acks === 0
          ? []
          : op.results.sort((a, b) => a.topicName.localeCompare(b.topicName) || a.partition - b.partition),
      );
      return;
    }
    const first = op.failed[0];
    if (op.results.length === 0 && op.failed.length === 1 && first !== undefined) op.reject(first.error);
    else op.reject(new KafkaJSPartialSendError(op.results, op.failed));
  }
}

function len(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') return v.length;
  return (v as Uint8Array).byteLength;
}

export type { Acks };
