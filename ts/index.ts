/**
 * ferrolog: Kafka inside your Node process.
 *
 * `Log` is the low-level API over the storage engine; the codec encodes and
 * decodes Kafka RecordBatch v2.
 */

export type { ITopicConfig, PartitionLag, PartitionOffset } from './admin/admin';
export { Admin, KafkaJSDeleteGroupsError } from './admin/admin';
/** For the benchmark harness: the physical write limit, measured natively. */
export { benchPhysicalWrite } from './bench-support';
export type { KafkaConfig } from './client/kafka';
export { Kafka } from './client/kafka';
export type { LogEntry, Logger, LoggerEntryContent, logCreator } from './client/logger';
export { logLevel } from './client/logger';
export type { RetryOptions } from './client/retry';
export * from './codec';
export type {
  Batch,
  ConsumerConfig,
  ConsumerEvents,
  ConsumerRunConfig,
  ConsumerSubscribeTopics,
  EachBatchPayload,
  EachMessagePayload,
  KafkaMessage,
  OffsetsByTopicPartition,
  TopicPartitionOffsetAndMetadata,
} from './consumer/consumer';
export { Consumer } from './consumer/consumer';
export type { Deserializer, DeserializerContext } from './consumer/deserializers';
export { Deserializers, KafkaJSDeserializationError } from './consumer/deserializers';
export type { DeadLetterOptions } from './consumer/dlq';
export { deadLetterQueue } from './consumer/dlq';
export * from './errors';
export type {
  Assigner,
  AssignerCluster,
  GroupMember,
  GroupMemberAssignment,
  GroupState,
  MemberAssignmentValue,
  MemberMetadataValue,
  PartitionAssigner,
} from './group/assigners';
export { AssignerProtocol, PartitionAssigners } from './group/assigners';
export { KafkaJSRebalanceError } from './group/errors';
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
