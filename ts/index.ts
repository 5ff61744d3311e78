/**
 * ferrolog: Kafka inside your Node process.
 *
 * Every export of kafkajs 2.2.4 (`types/index.d.ts`) is here with its name
 * and a compatible shape, so a kafkajs program compiles with only the
 * import changed. `Log` is the low-level API over the storage engine; the
 * codec encodes and decodes Kafka RecordBatch v2.
 */

import {
  AssignerProtocol as assignerProtocol,
  type MemberAssignmentValue,
  type MemberMetadataValue,
} from './group/assigners';
import type { MemberAssignment, MemberMetadata } from './types/kafkajs';

// ---- clients ----
export type { ITopicConfig, PartitionLag } from './admin/admin';
export { Admin, KafkaJSDeleteGroupsError } from './admin/admin';
export type { KafkaConfig } from './client/kafka';
export { Kafka } from './client/kafka';
export type { LogEntry, Logger, LoggerEntryContent, logCreator } from './client/logger';
export { logLevel } from './client/logger';
export type { RetryOptions } from './client/retry';

// ---- codec ----
export type { CompressionCodec, CompressionSetting } from './codec/compression';
export { CompressionCodecs, CompressionTypes, compressRecords, parseCompression } from './codec/compression';
export type { BatchInfo } from './codec/decoder';
/**
 * The codec's decoded record. kafkajs' `Message` is the producer's message,
 * so the decoder's class is exported as `DecodedMessage`.
 */
export {
  DecodedMessage,
  decodeColumns,
  decodeMessages,
  RecordColumns,
  readBatches,
  readBatchInfo,
} from './codec/decoder';
export type { BatchOptions, EncodedRecords, HeaderValue, IHeaders, RecordInput } from './codec/encoder';
export { encodeBatch, encodeRecords, frameBatch } from './codec/encoder';

// ---- consumer ----
export type {
  Assigner,
  AssignerCluster,
  GroupMember,
  GroupMemberAssignment,
  GroupState,
  MemberAssignmentValue,
  MemberMetadataValue,
} from './group/assigners';
export { PartitionAssigners } from './group/assigners';

/** kafkajs' protocol codecs; decoded values always carry `userData`. */
export const AssignerProtocol = assignerProtocol as {
  MemberMetadata: { encode(value: MemberMetadataValue): Buffer; decode(buffer: Buffer): MemberMetadata };
  MemberAssignment: {
    encode(value: MemberAssignmentValue): Buffer;
    decode(buffer: Buffer): MemberAssignment | null;
  };
};

export type {
  Batch,
  ConsumerConfig,
  ConsumerEachBatchPayload,
  ConsumerEachMessagePayload,
  ConsumerEvents,
  ConsumerRunConfig,
  ConsumerSubscribeTopics,
  EachBatchHandler,
  EachBatchPayload,
  EachMessageHandler,
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
// ---- errors ----
export * from './errors';
export { KafkaJSRebalanceError } from './group/errors';

// ---- the engine ----
export type {
  AppendResult,
  CreateTopicOptions,
  DumpedBatch,
  GroupCoordinatorOptions,
  LogOptions,
  ReadResult,
  RecoveryReport,
  SegmentDescription,
  SegmentDump,
  TopicConfigEntries,
  TopicDescription,
  VerifyResult,
  Watermarks,
} from './log';
export { Log } from './log';
export type {
  MirrorConfig,
  MirrorEnd,
  MirrorEvent,
  MirrorOptions,
  MirrorPartitionLag,
  MirrorResume,
  OpenMirrorOptions,
} from './mirror';
export { Mirror, MirrorFencedError, mirrorGroupId, openMirror } from './mirror';

// ---- producer ----
export type { ICustomPartitioner, PartitionerArgs, PartitionMetadata } from './producer/partitioners';
export { legacyMurmur2, murmur2, Partitioners } from './producer/partitioners';
export type {
  Acks,
  Message,
  /** The name ferrolog used before kafkajs' `Message`: the same type. */
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
export type { BrokerServer, BrokerStats, ListenOptions } from './server/listen';
// ---- instrumentation events ----
export type {
  AdminEventMap,
  AdminEvents,
  ConnectEvent,
  ConsumerCommitOffsetsEvent,
  ConsumerCrashEvent,
  ConsumerEndBatchProcessEvent,
  ConsumerEventMap,
  ConsumerFetchEvent,
  ConsumerFetchStartEvent,
  ConsumerGroupJoinEvent,
  ConsumerHeartbeatEvent,
  ConsumerRebalancingEvent,
  ConsumerReceivedUnsubcribedTopicsEvent,
  ConsumerStartBatchProcessEvent,
  DisconnectEvent,
  IBatchProcessEvent,
  IMemberAssignment,
  InstrumentationEvent,
  ProducerEventMap,
  RemoveInstrumentationEventListener,
  RequestEvent,
  RequestQueueSizeEvent,
  RequestTimeoutEvent,
} from './types/events';
// ---- the rest of kafkajs' types ----
export type {
  Acl,
  AclEntry,
  AclFilter,
  AclResource,
  AdminConfig,
  ApiVersions,
  Assignment,
  AuthenticationProviderArgs,
  Authenticator,
  Broker,
  BrokerMetadata,
  BrokersFunction,
  Cluster,
  ConfigEntries,
  ConfigSynonyms,
  ConsumerGroup,
  ConsumerGroupState,
  ConsumerSubscribeTopic,
  CoordinatorMetadata,
  DefaultPartitioner,
  DeleteAclFilterResponses,
  DeleteAclResponse,
  DeleteGroupsResult,
  DescribeAclResource,
  DescribeAclResponse,
  DescribeConfigResponse,
  FetchOffsetsPartition,
  GroupDescription,
  GroupDescriptions,
  GroupOverview,
  IResourceConfig,
  IResourceConfigEntry,
  ISerializer,
  ISocketFactory,
  ISocketFactoryArgs,
  ITopicMetadata,
  ITopicPartitionConfig,
  KafkaJSConnectionErrorMetadata,
  KafkaJSDeleteGroupsErrorGroups,
  KafkaJSNumberOfRetriesExceededMetadata,
  KafkaJSOffsetOutOfRangeMetadata,
  KafkaJSRequestTimeoutErrorMetadata,
  KafkaJSServerDoesNotSupportApiKeyMetadata,
  KafkaJSStaleTopicMetadataAssignmentMetadata,
  KafkaJSTopicMetadataNotLoadedMetadata,
  LegacyPartitioner,
  ListPartitionReassignmentsResponse,
  MatchingAcl,
  Mechanism,
  MemberAssignment,
  MemberDescription,
  MemberMetadata,
  MessageSetEntry,
  OauthbearerProviderResponse,
  Offsets,
  OngoingPartitionReassignment,
  OngoingTopicReassignment,
  PartitionAssigner,
  PartitionOffset,
  PartitionReassignment,
  RecordBatchEntry,
  ReplicaAssignment,
  ResourceConfigQuery,
  SASLMechanism,
  SASLMechanismOptions,
  SASLMechanismOptionsMap,
  SASLOptions,
  SaslAuthenticateArgs,
  SaslAuthenticationRequest,
  SaslAuthenticationResponse,
  SeekEntry,
  Sender,
  TopicOffsets,
  TopicPartition,
  TopicPartitionOffset,
  TopicPartitions,
  Transaction,
  ValueOf,
  Without,
  XOR,
} from './types/kafkajs';
export {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ConfigResourceTypes,
  ConfigSource,
  ResourcePatternTypes,
} from './types/kafkajs';
