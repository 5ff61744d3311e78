/**
 * The consumer's public types, in kafkajs' shapes (and ferrolog's
 * additions, marked as such).
 */
import type { RetryOptions } from '../client/retry';
import type { IHeaders, RecordColumns } from '../codec';
import type { PartitionAssigner as KafkaJSPartitionAssigner } from '../types/kafkajs';
import type { Deserializer } from './deserializers';
import type { OffsetsByTopicPartition } from './offsets';

export type { OffsetsByTopicPartition } from './offsets';

export interface ConsumerConfig<K = Buffer | null, V = Buffer | null> {
  groupId: string;
  /** kafkajs' assigner factories (ferrolog's built-in ones fit too). */
  partitionAssigners?: KafkaJSPartitionAssigner[];
  metadataMaxAge?: number;
  sessionTimeout?: number;
  rebalanceTimeout?: number;
  heartbeatInterval?: number;
  maxBytesPerPartition?: number;
  minBytes?: number;
  maxBytes?: number;
  maxWaitTimeInMs?: number;
  retry?: RetryOptions;
  allowAutoTopicCreation?: boolean;
  maxInFlightRequests?: number;
  readUncommitted?: boolean;
  rackId?: string;
  /** Defaults for `run` and `subscribe`, in the shape tutorials write them. */
  autoCommit?: boolean;
  autoCommitInterval?: number | null;
  autoCommitThreshold?: number | null;
  fromBeginning?: boolean;
  deserializers?: { key?: Deserializer<K>; value?: Deserializer<V> };
}

/**
 * A consumed message in kafkajs' shape (its RecordBatch entry); key and
 * value deserialized on read. ferrolog's additions are optional so messages
 * written by hand, as kafkajs tests do, still fit.
 */
export interface KafkaMessage<K = Buffer | null, V = Buffer | null> {
  key: K | null;
  value: V | null;
  timestamp: string;
  attributes: number;
  offset: string;
  headers: IHeaders;
  /** Only old (magic 0/1) message sets have a size; RecordBatch entries never do. */
  size?: never;
  /** The bytes before deserialization (always set on messages ferrolog delivers). */
  rawKey?: Buffer | null;
  rawValue?: Buffer | null;
}

export interface EachMessagePayload<K = Buffer | null, V = Buffer | null> {
  topic: string;
  partition: number;
  message: KafkaMessage<K, V>;
  heartbeat(): Promise<void>;
  /** Pauses this topic-partition; returns a function that resumes it. */
  pause(): () => void;
}

export interface Batch<K = Buffer | null, V = Buffer | null> {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: KafkaMessage<K, V>[];
  isEmpty(): boolean;
  firstOffset(): string | null;
  lastOffset(): string;
  offsetLag(): string;
  offsetLagLow(): string;
  /**
   * Beyond kafkajs: the same records as columns (one backing buffer, typed
   * arrays of offsets, timestamps and key, value and header positions), with
   * no object per record. Reading only `records` never builds `messages`.
   * Keys and values here are the raw bytes: deserializers do not apply.
   */
  readonly records: RecordColumns;
}

export type EachMessageHandler<K = Buffer | null, V = Buffer | null> = (
  payload: EachMessagePayload<K, V>,
) => Promise<void>;
export type EachBatchHandler<K = Buffer | null, V = Buffer | null> = (
  payload: EachBatchPayload<K, V>,
) => Promise<void>;
/** kafkajs' aliases from @types/kafkajs. */
export type ConsumerEachMessagePayload<K = Buffer | null, V = Buffer | null> = EachMessagePayload<K, V>;
export type ConsumerEachBatchPayload<K = Buffer | null, V = Buffer | null> = EachBatchPayload<K, V>;

export interface EachBatchPayload<K = Buffer | null, V = Buffer | null> {
  batch: Batch<K, V>;
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  pause(): () => void;
  commitOffsetsIfNecessary(offsets?: OffsetsByTopicPartition): Promise<void>;
  uncommittedOffsets(): OffsetsByTopicPartition;
  isRunning(): boolean;
  isStale(): boolean;
}

export interface ConsumerRunConfig<K = Buffer | null, V = Buffer | null> {
  autoCommit?: boolean;
  autoCommitInterval?: number | null;
  autoCommitThreshold?: number | null;
  eachBatchAutoResolve?: boolean;
  partitionsConsumedConcurrently?: number;
  eachBatch?: EachBatchHandler<K, V>;
  eachMessage?: EachMessageHandler<K, V>;
}

export interface ConsumerSubscribeTopics {
  topics?: (string | RegExp)[] | string | RegExp;
  topic?: string | RegExp;
  fromBeginning?: boolean;
}

export interface TopicPartitionOffsetAndMetadata {
  topic: string;
  partition: number;
  offset: string;
  metadata?: string | null;
}
