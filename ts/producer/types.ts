/**
 * The producer's public types (kafkajs 2.2.4's shapes) and the errors that
 * staging raises. Shared by the producer's files and the transports; imports
 * nothing of the producer itself, so nothing here can form a cycle.
 */
import type { RetryOptions } from '../client/retry';
import type { CompressionSetting } from '../codec/compression';
import type { IHeaders } from '../codec/encoder';
import { KafkaJSError, KafkaJSNonRetriableError } from '../errors';
import type { ICustomPartitioner } from './partitioners';
import type { RawValue, Serializer } from './serializers';

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
