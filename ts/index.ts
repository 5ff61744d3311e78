/**
 * ferrolog: Kafka inside your Node process.
 *
 * `Log` is the low-level API over the storage engine; the codec encodes and
 * decodes Kafka RecordBatch v2.
 */

export type { KafkaConfig } from './client/kafka';
export { Kafka } from './client/kafka';
export type { LogEntry, Logger, LoggerEntryContent, logCreator } from './client/logger';
export { logLevel } from './client/logger';
export type { RetryOptions } from './client/retry';
export * from './codec';
export * from './errors';
export type {
  AppendResult,
  CreateTopicOptions,
  LogOptions,
  ReadResult,
  RecoveryReport,
  SegmentDescription,
  TopicConfigEntries,
  TopicDescription,
  Watermarks,
} from './log';
export { Log } from './log';
export type { ICustomPartitioner, PartitionerArgs, PartitionMetadata } from './producer/partitioners';
export { legacyMurmur2, murmur2, Partitioners } from './producer/partitioners';
export type {
  Acks,
  InstrumentationEvent,
  Message as ProducerMessage,
  ProducerBatch,
  ProducerConfig,
  ProducerEvents,
  ProducerRecord,
  RecordMetadata,
  SerializerConfig,
  TopicMessages,
} from './producer/producer';
export { KafkaJSSerializationError, KafkaJSTopicNotFound, Producer } from './producer/producer';
export type { RawValue, Serializer, SerializerContext } from './producer/serializers';
export { Serializers } from './producer/serializers';
