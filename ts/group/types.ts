/**
 * The group requests and responses as they cross the native binding (one
 * native call each, see crates/node/src/groups.rs). Kafka's error codes
 * come back as `errorCode` fields; `errors.ts` maps them to kafkajs errors.
 */

import type { ConsumerGroupState } from '../types/kafkajs';

export interface JoinGroupRequest {
  groupId: string;
  /** Empty for a member joining for the first time. */
  memberId: string;
  groupInstanceId?: string | null;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  sessionTimeout: number;
  rebalanceTimeout: number;
  clientId: string;
  clientHost?: string;
  requireKnownMemberId?: boolean;
}

export interface JoinGroupResult {
  errorCode: number;
  generationId: number;
  protocolName: string | null;
  leader: string;
  skipAssignment: boolean;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null;
  protocolType?: string | null;
  protocolName?: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface SyncGroupResult {
  errorCode: number;
  protocolName: string | null;
  assignment: Buffer;
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null;
}

export interface PartitionsResult {
  errorCode: number;
  partitions: { topic: string; partition: number; errorCode: number }[];
}

export interface OffsetCommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null;
  offsets: {
    topic: string;
    partition: number;
    offset: number;
    leaderEpoch?: number;
    metadata?: string | null;
  }[];
}

export interface CommittedOffset {
  topic: string;
  partition: number;
  /** -1 when nothing is committed. */
  offset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
}

export interface DescribedGroup {
  groupId: string;
  found: boolean;
  /** One of Kafka's state names, as the coordinator reports them. */
  state: ConsumerGroupState;
  protocolType: string;
  protocol: string;
  generationId: number;
  leader: string;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    memberMetadata: Buffer;
    memberAssignment: Buffer;
  }[];
}

/** The coordinator of one data directory, as the binding exposes it. */
export interface GroupCalls {
  join(req: JoinGroupRequest): Promise<JoinGroupResult>;
  sync(req: SyncGroupRequest): Promise<SyncGroupResult>;
  /** Kafka's error code. */
  heartbeat(req: HeartbeatRequest): Promise<number>;
  leave(
    groupId: string,
    members: { memberId: string; groupInstanceId?: string | null }[],
  ): Promise<{ errorCode: number; members: { memberId: string; errorCode: number }[] }>;
  commit(req: OffsetCommitRequest): Promise<PartitionsResult>;
  fetchOffsets(
    groupId: string,
    topics: { topic: string; partitions: number[] }[] | null,
  ): Promise<CommittedOffset[]>;
  describe(groupIds: string[]): Promise<DescribedGroup[]>;
  list(states?: string[] | null): Promise<{ groupId: string; protocolType: string; state: string }[]>;
  delete(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]>;
  deleteOffsets(
    groupId: string,
    partitions: { topic: string; partition: number }[],
  ): Promise<PartitionsResult>;
}
