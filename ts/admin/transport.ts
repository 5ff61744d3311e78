/**
 * The admin's side of the transport seam: what `Admin` (ts/admin/admin.ts)
 * needs of a place that holds topics, partitions and groups. One method per
 * kafkajs call at most, batch-shaped, with a result per item carrying Kafka's
 * numeric error code (ts/kafka-codes.ts): the admin keeps the validation,
 * result shaping, kafkajs errors, retries and events, so both transports
 * answer with the same classes and messages.
 *
 * - `local-transport.ts`: the engine and group coordinator of a data directory.
 * - `../transport/remote-admin.ts`: the Kafka protocol client (crates/client
 *   through crates/node/src/client.rs), against a ferrolog broker or Kafka.
 *
 * A call a target cannot do raises the error that target gives (e.g.
 * UNSUPPORTED_VERSION from a broker that lacks the API), never a default.
 */
import type { RetryOptions } from '../client/retry';
import type { AclCalls } from './acls';

export interface AdminPartition {
  partition: number;
  errorCode: number;
  leader: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
}

export interface AdminTopic {
  name: string;
  /** 3 (UNKNOWN_TOPIC_OR_PARTITION) for a topic that does not exist. */
  errorCode: number;
  isInternal: boolean;
  partitions: AdminPartition[];
}

export interface AdminMetadata {
  clusterId: string | null;
  /** -1 when unknown. */
  controllerId: number;
  brokers: { nodeId: number; host: string; port: number }[];
  topics: AdminTopic[];
}

export interface NewTopicRequest {
  name: string;
  /** -1: the target's default. */
  numPartitions: number;
  /** -1: the target's default. */
  replicationFactor: number;
  configs: Record<string, string>;
}

/** The outcome for one named thing (topic, group, resource). */
export interface NamedResult {
  name: string;
  errorCode: number;
  errorMessage?: string | null;
}

export interface PartitionResult {
  topic: string;
  partition: number;
  errorCode: number;
  errorMessage?: string | null;
}

/** ListOffsets: `timestamp` -1 is the high watermark, -2 the log start. */
export interface OffsetQuery {
  topic: string;
  partition: number;
  timestamp: number;
}

export interface OffsetAnswer extends PartitionResult {
  /** -1 when no record is at or after the timestamp. */
  offset: number;
}

export interface ConfigQuery {
  type: number;
  name: string;
  /** Undefined or null: every config. */
  configNames?: string[] | null;
}

export interface ConfigEntryAnswer {
  configName: string;
  configValue: string | null;
  readOnly: boolean;
  isDefault: boolean;
  configSource: number;
  isSensitive: boolean;
  configSynonyms?: { configName: string; configValue: string | null; configSource: number }[];
}

export interface ConfigAnswer {
  resourceType: number;
  resourceName: string;
  errorCode: number;
  errorMessage: string | null;
  configEntries: ConfigEntryAnswer[];
}

export interface ConfigAlteration {
  type: number;
  name: string;
  configEntries: { name: string; value: string }[];
}

export interface CommittedAnswer extends PartitionResult {
  /** -1 when nothing is committed. */
  offset: number;
  metadata: string | null;
}

export interface GroupAnswer {
  groupId: string;
  errorCode: number;
  state: string;
  protocolType: string;
  protocol: string;
  members: {
    memberId: string;
    clientId: string;
    clientHost: string;
    memberMetadata: Buffer;
    memberAssignment: Buffer;
  }[];
}

export interface ReassignmentRequest {
  topic: string;
  partition: number;
  replicas: number[];
}

export interface OngoingReassignment {
  topic: string;
  partition: number;
  replicas: number[];
  addingReplicas: number[];
  removingReplicas: number[];
}

export interface AdminTransport {
  readonly kind: 'local' | 'remote';
  /** `retry`: how long to wait on what blocks the connection (a directory lock, brokers). */
  connect(retry: RetryOptions | undefined): Promise<void>;
  disconnect(): Promise<void>;
  /** Topics' metadata, or every topic's (internal ones marked) when `topics` is null. */
  metadata(topics: string[] | null): Promise<AdminMetadata>;
  createTopics(topics: NewTopicRequest[], timeoutMs: number, validateOnly: boolean): Promise<NamedResult[]>;
  deleteTopics(topics: string[], timeoutMs: number): Promise<NamedResult[]>;
  /** Raises each topic's partition count to `count`. */
  createPartitions(
    topics: { topic: string; count: number }[],
    timeoutMs: number,
    validateOnly: boolean,
  ): Promise<NamedResult[]>;
  listOffsets(queries: OffsetQuery[]): Promise<OffsetAnswer[]>;
  /** Moves each partition's log start to `offset`; the result's offset is the new low watermark. */
  deleteRecords(
    partitions: { topic: string; partition: number; offset: number }[],
    timeoutMs: number,
  ): Promise<OffsetAnswer[]>;
  describeConfigs(resources: ConfigQuery[], includeSynonyms: boolean): Promise<ConfigAnswer[]>;
  /** Kafka's AlterConfigs: each resource's overrides become exactly the entries given. */
  alterConfigs(resources: ConfigAlteration[], validateOnly: boolean): Promise<NamedResult[]>;
  /** A group's committed offsets: of `topics`' partitions, or every one it has when null. */
  offsetFetch(
    groupId: string,
    topics: { topic: string; partitions: number[] }[] | null,
  ): Promise<CommittedAnswer[]>;
  /** A commit from outside the group (generation -1); a group with members refuses it. */
  offsetCommit(
    groupId: string,
    offsets: { topic: string; partition: number; offset: number }[],
  ): Promise<PartitionResult[]>;
  describeGroups(groupIds: string[]): Promise<GroupAnswer[]>;
  listGroups(): Promise<{ groupId: string; protocolType: string }[]>;
  deleteGroups(groupIds: string[]): Promise<NamedResult[]>;
  alterPartitionReassignments(
    partitions: ReassignmentRequest[],
    timeoutMs: number,
  ): Promise<PartitionResult[]>;
  /** `topics` null: every reassignment in progress. */
  listPartitionReassignments(
    topics: { topic: string; partitions: number[] }[] | null,
    timeoutMs: number,
  ): Promise<OngoingReassignment[]>;
  /** DescribeAcls / CreateAcls / DeleteAcls (ts/admin/acls.ts checks the arguments). */
  acls(): AclCalls;
}
