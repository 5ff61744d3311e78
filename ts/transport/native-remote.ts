/**
 * The shape of the native remote client (`crates/node/src/client.rs`, over
 * `crates/client`). Private to `ts/transport/`.
 */
import { binding } from '../native';

export interface RemoteClientOptions {
  brokers: string[];
  clientId?: string;
  ssl?: boolean;
  sslCa?: string;
  sslCert?: string;
  sslKey?: string;
  sslServerName?: string;
  saslMechanism?: string;
  saslUsername?: string;
  saslPassword?: string;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  retries?: number;
  retryBackoffMs?: number;
  maxInFlight?: number;
  maxResponseBytes?: number;
  allowAutoTopicCreation?: boolean;
}

export interface RemotePartition {
  partition: number;
  errorCode: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
}

export interface RemoteTopic {
  name: string;
  topicId: string;
  errorCode: number;
  isInternal: boolean;
  partitions: RemotePartition[];
}

export interface RemoteMetadata {
  clusterId?: string | null;
  controllerId: number;
  brokers: { nodeId: number; host: string; port: number; rack?: string | null }[];
  topics: RemoteTopic[];
}

export interface RemoteProduceResult {
  topic: string;
  partition: number;
  errorCode: number;
  errorMessage?: string | null;
  baseOffset: number;
  logAppendTime: number;
  logStartOffset: number;
}

export interface RemoteFetchResult {
  topic: string;
  partition: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  records: Buffer;
  /** read_committed: the aborted transactions overlapping `records`. */
  abortedTransactions: { producerId: number; firstOffset: number }[];
}

export interface RemoteOffsetResult {
  topic: string;
  partition: number;
  errorCode: number;
  offset: number;
  timestamp: number;
}

export interface RemoteNamedResult {
  name: string;
  errorCode: number;
  errorMessage?: string | null;
}

export interface RemoteConfigResult {
  resourceType: number;
  name: string;
  errorCode: number;
  errorMessage?: string | null;
  entries: {
    name: string;
    value?: string | null;
    readOnly: boolean;
    isDefault: boolean;
    configSource: number;
    isSensitive: boolean;
  }[];
}

export interface RemoteCommittedOffset {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string | null;
  errorCode: number;
}

export interface RemoteGroupDescription {
  groupId: string;
  errorCode: number;
  state: string;
  protocolType: string;
  protocol: string;
  members: {
    memberId: string;
    groupInstanceId?: string | null;
    clientId: string;
    clientHost: string;
    memberMetadata: Buffer;
    memberAssignment: Buffer;
  }[];
}

export interface NativeRemoteClient {
  close(): void;
  metadata(topics?: string[] | null): Promise<RemoteMetadata>;
  produce(
    acks: number,
    timeoutMs: number,
    batches: { topic: string; partition: number; records: Buffer }[],
  ): Promise<RemoteProduceResult[]>;
  /** Resolves to [] when `cancelFetch(lane)` cancels it first. */
  fetch(
    partitions: { topic: string; partition: number; offset: number; maxBytes: number }[],
    options: {
      maxWaitMs: number;
      minBytes: number;
      maxBytes: number;
      isolationLevel?: number;
      lane?: number;
    },
  ): Promise<RemoteFetchResult[]>;
  /** Cancels the fetches of `lane` in flight (closing that lane's connections); how many. */
  cancelFetch(lane: number): number;
  /** Cancels the fetches of `lane` and closes its connections (the caller is done with it). */
  releaseFetchLane(lane: number): void;
  listOffsets(
    partitions: { topic: string; partition: number; value: number }[],
    isolationLevel?: number,
  ): Promise<RemoteOffsetResult[]>;
  deleteRecords(
    partitions: { topic: string; partition: number; value: number }[],
    timeoutMs: number,
  ): Promise<RemoteOffsetResult[]>;
  initProducerId(
    current?: {
      producerId: number;
      producerEpoch: number;
    } | null,
  ): Promise<{ producerId: number; producerEpoch: number }>;
  createTopics(
    topics: {
      name: string;
      numPartitions: number;
      replicationFactor: number;
      configs?: Record<string, string>;
    }[],
    timeoutMs: number,
    validateOnly: boolean,
  ): Promise<RemoteNamedResult[]>;
  deleteTopics(topics: string[], timeoutMs: number): Promise<RemoteNamedResult[]>;
  createPartitions(
    topics: { topic: string; partition: number; value: number }[],
    timeoutMs: number,
    validateOnly: boolean,
  ): Promise<RemoteNamedResult[]>;
  describeConfigs(
    resources: { resourceType: number; name: string; keys?: string[] }[],
    includeSynonyms: boolean,
  ): Promise<RemoteConfigResult[]>;
  alterConfigs(
    resources: { resourceType: number; name: string; entries: { name: string; value?: string | null }[] }[],
    validateOnly: boolean,
  ): Promise<RemoteNamedResult[]>;
  joinGroup(args: {
    groupId: string;
    sessionTimeoutMs: number;
    rebalanceTimeoutMs: number;
    memberId: string;
    groupInstanceId?: string | null;
    protocolType: string;
    protocols: { name: string; metadata: Buffer }[];
  }): Promise<{
    errorCode: number;
    generationId: number;
    protocolName?: string | null;
    leader: string;
    memberId: string;
    members: { memberId: string; groupInstanceId?: string | null; metadata: Buffer }[];
  }>;
  syncGroup(
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string | null | undefined,
    protocolType: string,
    protocolName: string,
    assignments: { memberId: string; assignment: Buffer }[],
  ): Promise<{ errorCode: number; assignment: Buffer }>;
  heartbeat(
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string | null | undefined,
  ): Promise<number>;
  leaveGroup(groupId: string, memberId: string, groupInstanceId: string | null | undefined): Promise<number>;
  offsetCommit(
    groupId: string,
    generationId: number,
    memberId: string,
    groupInstanceId: string | null | undefined,
    offsets: { topic: string; partition: number; offset: number; metadata?: string }[],
  ): Promise<RemoteCommittedOffset[]>;
  offsetFetch(
    groupId: string,
    topics?: { topic: string; partitions: number[] }[] | null,
  ): Promise<RemoteCommittedOffset[]>;
  describeGroups(groups: string[]): Promise<RemoteGroupDescription[]>;
  listGroups(): Promise<{ groupId: string; protocolType: string; state: string }[]>;
  deleteGroups(groups: string[]): Promise<RemoteNamedResult[]>;
}

interface RemoteBinding {
  connectRemote?: (options: RemoteClientOptions) => Promise<NativeRemoteClient>;
}

export function connectRemote(options: RemoteClientOptions): Promise<NativeRemoteClient> {
  const connect = (binding as unknown as RemoteBinding).connectRemote;
  if (typeof connect !== 'function') {
    throw new Error('ferrolog: this build of the native addon has no remote client; rebuild it');
  }
  return connect(options);
}
