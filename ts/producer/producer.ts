/**
 * The kafkajs-compatible producer, one implementation over either transport.
 *
 * A `send` goes through three files, each with one job:
 * - staging.ts validates, serializes and partitions its messages
 *   synchronously (a bad message rejects the call and nothing is queued);
 * - accumulator.ts queues them per partition, so that everything queued in
 *   the same tick (linger 0), or within `lingerMs`, leaves together, within
 *   a memory bound;
 * - sender.ts encodes one RecordBatch per partition (up to `batch.size`
 *   bytes), frames it with the idempotent producer's sequence and hands all
 *   of a flush's batches to the transport in one call.
 * The transport (transport.ts) is the engine in process or a Kafka cluster;
 * this file only wires the three together and keeps the producer's state
 * and events. acks decide when the caller hears back:
 *
 * | acks        | `send` resolves                                               |
 * |-------------|---------------------------------------------------------------|
 * | 0           | once queued (returns `[]`, as kafkajs does)                   |
 * | 1           | once written (local: in the page cache; remote: the leader)   |
 * | -1 / 'all'  | once durable (local: fsynced; remote: every in-sync replica)  |
 *
 * Memory is bounded: past `maxBufferedBytes` of queued messages, `send`
 * waits for room instead of growing the heap.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../client/logger';
import { type CompressionSetting, type CompressionTypes, parseCompression } from '../codec/compression';
import {
  InvalidArgumentError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNotImplemented,
} from '../errors';
import {
  checkEventName,
  PRODUCER_EVENTS as EVENTS,
  type ProducerEventMap,
  type ProducerEvents,
  type RemoveInstrumentationEventListener,
} from '../types/events';
import type { Transaction } from '../types/kafkajs';
import { Accumulator, detach } from './accumulator';
import type { Part, SendOp } from './queue';
import { Sender } from './sender';
import type { RawValue } from './serializers';
import { Stager } from './staging';
import type { ProduceFrame, ProducerContext } from './transport';
import type {
  Acks,
  ProducerBatch,
  ProducerConfig,
  ProducerRecord,
  RecordMetadata,
  SerializerConfig,
  TopicMessages,
} from './types';

export type { InstrumentationEvent, ProducerEvents } from '../types/events';
export type { ProducerContext, ProducerTransport } from './transport';
export {
  type Acks,
  KafkaJSSerializationError,
  KafkaJSTopicNotFound,
  type Message,
  type ProducerBatch,
  type ProducerConfig,
  type ProducerRecord,
  type RecordMetadata,
  type SerializerConfig,
  type TopicMessages,
} from './types';

const BATCH_SIZE_DEFAULT = 1024 * 1024;
const MAX_BUFFERED_BYTES_DEFAULT = 32 * 1024 * 1024;

/** Where `capture` leaves a new promise's resolving functions, read at once. */
const captured: { resolve: (r: RecordMetadata[]) => void; reject: (e: Error) => void } = {
  resolve: () => undefined,
  reject: () => undefined,
};
function capture(resolve: (r: RecordMetadata[]) => void, reject: (e: Error) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

export function normalizeAcks(acks: unknown): -1 | 0 | 1 {
  if (acks === undefined || acks === null || acks === -1 || acks === 'all') return -1;
  if (acks === 0 || acks === 1) return acks;
  throw new InvalidArgumentError(`acks must be -1, 'all', 0 or 1, not ${String(acks)}`);
}

export class Producer<K = RawValue, V = RawValue> {
  readonly events: ProducerEvents = EVENTS;
  private readonly ctx: ProducerContext;
  private readonly log: Logger;
  private readonly emitter = new EventEmitter();
  private readonly idempotent: boolean;
  private readonly transactionalId: string | undefined;
  private readonly defaultAcks: -1 | 0 | 1;
  private readonly defaultCompression: CompressionTypes;
  private readonly retry: ProducerConfig['retry'];
  private readonly stager: Stager<K, V>;
  private readonly accumulator: Accumulator;
  private readonly sender: Sender;
  private state: 'disconnected' | 'connected' | 'disconnecting' = 'disconnected';
  private requestId = 0;

  constructor(ctx: ProducerContext, config: ProducerConfig<K, V> = {}) {
    this.ctx = ctx;
    this.log = ctx.logger.namespace('Producer');
    this.idempotent = config.idempotent ?? config.idempotence ?? false;
    this.transactionalId = config.transactionalId;
    this.defaultAcks = normalizeAcks(config.acks);
    this.defaultCompression = parseCompression(config.compression);
    const batchBytes = config.batch?.size ?? BATCH_SIZE_DEFAULT;
    const lingerMs = config.batch?.lingerMs ?? 0;
    const maxBufferedBytes = config.maxBufferedBytes ?? MAX_BUFFERED_BYTES_DEFAULT;
    for (const [name, v] of [
      ['batch.size', batchBytes],
      ['batch.lingerMs', lingerMs],
      ['maxBufferedBytes', maxBufferedBytes],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0)
        throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    }
    this.retry = config.retry ?? ctx.retry;
    this.stager = new Stager<K, V>(
      ctx.transport,
      config.createPartitioner,
      config.allowAutoTopicCreation ?? true,
      config.serializers,
    );
    this.sender = new Sender({
      transport: ctx.transport,
      retry: this.retry,
      logger: this.log,
      idempotent: this.idempotent,
      batchBytes,
      release: (bytes) => this.accumulator.release(bytes),
      request: (frames) => this.request(frames),
    });
    this.accumulator = new Accumulator(
      batchBytes,
      lingerMs,
      maxBufferedBytes,
      (queues) => this.sender.send(queues),
      (e) => this.log.error('produce failed unexpectedly', { error: e.message }),
      () => this.sender.busy(),
    );
  }

  async connect(): Promise<void> {
    if (this.state === 'connected') return;
    if (this.transactionalId !== undefined) {
      throw new KafkaJSNonRetriableError(
        'transactions are not implemented by ferrolog yet (transactionalId was set)',
      );
    }
    const transport = this.ctx.transport;
    await transport.connect(this.retry);
    if (this.idempotent) {
      try {
        this.sender.identity = await transport.initProducerId();
      } catch (e) {
        await transport.close();
        throw e;
      }
    }
    this.state = 'connected';
    this.emit(EVENTS.CONNECT, null);
    if (this.idempotent) {
      const id = this.sender.identity;
      // kafkajs' eosManager logs these once InitProducerId answers, after CONNECT.
      this.log.debug('Transaction state transition UNINITIALIZED --> READY');
      this.log.debug('Initialized producer id & epoch', {
        producerId: id?.producerId,
        producerEpoch: id?.producerEpoch,
      });
    }
  }

  /** Sends what is queued, waits for it, and releases the transport. */
  async disconnect(): Promise<void> {
    if (this.state !== 'connected') return;
    this.state = 'disconnecting';
    await this.accumulator.close();
    this.state = 'disconnected';
    await this.ctx.transport.close();
    this.emit(EVENTS.DISCONNECT, null);
  }

  isIdempotent(): boolean {
    return this.idempotent;
  }

  logger(): Logger {
    return this.log;
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
      this.log.error('an instrumentation event listener threw', {
        event: type,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  /** One transport call: kafkajs' REQUEST event (one per Produce request). */
  private request(frames: ProduceFrame[]): void {
    if (this.emitter.listenerCount(EVENTS.REQUEST) === 0) return;
    let size = 0;
    for (const f of frames) size += f.batch.byteLength;
    const now = Date.now();
    this.emit(EVENTS.REQUEST, {
      broker: this.ctx.transport.broker,
      clientId: this.ctx.clientId,
      correlationId: this.requestId,
      size,
      createdAt: now,
      sentAt: now,
      pendingDuration: 0,
      duration: 0,
      apiName: 'Produce',
      apiKey: 0,
      apiVersion: 7,
    });
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
    if (this.stager.staging) return Promise.resolve().then(() => this.sendTopics(topicMessages, batch));
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
      // Topics not known yet (a remote transport asks the cluster): stage once they are.
      const known = this.stager.prepare(topicMessages);
      if (known !== null) return known.then(() => this.sendTopics(topicMessages, batch));
      // One shared executor, not a closure per send.
      promise = new Promise<RecordMetadata[]>(capture);
      op = {
        remaining: 0,
        results: null,
        failures: null,
        resolve: captured.resolve,
        reject: captured.reject,
        settled: false,
        acks,
      };
      staged = this.stager.stage(op, topicMessages, batch.serializers, compression);
      bytes = this.stager.stagedBytes;
    } catch (e) {
      return Promise.reject(e);
    }
    // Wait for room, behind any earlier send already waiting, so sends keep
    // their order. A send larger than the whole buffer waits for it to empty.
    if (this.accumulator.mustWait(bytes)) {
      detach(staged);
      return this.accumulator.waitForRoom(bytes).then(() => this.commit(op, promise, staged, bytes));
    }
    this.accumulator.reserve(bytes);
    return this.commit(op, promise, staged, bytes);
  }

  /** Queues staged parts; their bytes are already reserved. */
  private commit(
    op: SendOp,
    promise: Promise<RecordMetadata[]>,
    staged: Part[],
    bytes: number,
  ): Promise<RecordMetadata[]> {
    if (this.state !== 'connected') {
      // Only a send that waited for room gets here, so its parts are detached.
      this.accumulator.release(bytes);
      return Promise.reject(new KafkaJSError('The producer is disconnected'));
    }
    if (staged.length === 0) {
      this.accumulator.release(bytes);
      return Promise.resolve([]);
    }
    this.accumulator.append(staged);
    if (op.acks === 0) {
      // No broker answers an acks=0 send, but it settles only once its
      // batch is handed to the transport (in a remote connection's write
      // queue), as kafkajs's settles once the request is written: a send
      // the caller makes after awaiting it then cannot overtake it on the
      // wire. Errors are logged, not thrown: the caller asked not to know.
      return promise.then(
        () => [],
        (e: Error) => {
          this.log.error('acks=0 send failed', { error: e.message });
          return [];
        },
      );
    }
    return promise;
  }
}
