/**
 * The consumer's side of the transport seam: what `ts/consumer` needs from
 * a place that holds partitions and a group coordinator, batch-shaped
 * (records never cross it one by one). `fetch-local.ts` implements it over
 * the engine and coordinator of a data directory, `fetch-remote.ts` over
 * the Kafka protocol client (crates/client through crates/node/src/client.rs).
 *
 * Only the consumer side lives here; the producer's side is its own.
 */

import type { RetryOptions } from '../client/retry';
import type { GroupMember, MemberHooks } from '../group/member';
import type { GroupCalls } from '../group/types';
import type { Cluster } from '../types/kafkajs';

export interface FetchPartition {
  topic: string;
  partition: number;
  /** The offset to read from. */
  offset: number;
  /** Kafka's partition_max_bytes (at least one whole batch comes back). */
  maxBytes: number;
}

export interface FetchOptions {
  /** How long to wait for data when no partition has any (Kafka's max_wait_ms). */
  maxWaitMs: number;
  minBytes: number;
  /** The response's byte limit across partitions. */
  maxBytes: number;
  readUncommitted: boolean;
  /** Ends the wait early (a remote fetch is cancelled and returns [], its connection closed). */
  signal?: AbortSignal;
}

export interface FetchedPartition {
  topic: string;
  partition: number;
  /**
   * Kafka's error code: 0, 1 (OFFSET_OUT_OF_RANGE: the consumer resets its
   * position), or another one after which the next fetch asks again.
   */
  errorCode: number;
  /** Whole RecordBatch v2 batches, back to back (the first may start before the offset asked for). */
  batches: Buffer;
  highWatermark: number;
  logStartOffset: number;
}

/** A commit as the consumer makes it. */
export interface CommitOffset {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string | null;
}

export interface ConsumerTransport {
  readonly kind: 'local' | 'remote';
  /** Connects (waiting per `retry` where the target is busy) and reaches the group coordinator. */
  connect(retry: RetryOptions | undefined): Promise<void>;
  close(): Promise<void>;
  /** The group coordinator's calls (Kafka's group APIs, one call each). */
  readonly groups: GroupCalls;
  /** A membership of `groupId` for a consumer; `forget` it when it is over. */
  member(groupId: string, hooks: MemberHooks): GroupMember;
  forget(member: GroupMember): void;
  /** Checks commits before they are sent, where the target does not (throws kafkajs errors). */
  validateCommits(commits: CommitOffset[]): void;
  /** Brings the metadata cache up to date for `topics` (null: every topic). */
  refreshMetadata(topics: string[] | null): Promise<void>;
  /** Topic names known to the cache (internal topics left out). */
  topicNames(): string[];
  /** Partitions of `topic` from the cache; -1 when the topic is unknown. */
  partitionCount(topic: string): number;
  /** Creates a topic for auto-creation; one that already exists is not an error. */
  createTopic(topic: string, partitions: number): Promise<void>;
  /** One fetch for several partitions: raw batches per partition, or an error code. */
  fetch(partitions: FetchPartition[], options: FetchOptions): Promise<FetchedPartition[]>;
  /** Kafka's ListOffsets: -2 the earliest offset, -1 the latest (the high watermark). */
  listOffsets(
    partitions: { topic: string; partition: number; timestamp: -1 | -2 }[],
  ): Promise<{ topic: string; partition: number; offset: number }[]>;
  /** kafkajs' `Cluster` for assigners written for kafkajs. */
  assignerCluster(): Cluster;
  /** Calls `listener` when a topic is created (locally; a remote target learns from metadata). */
  onTopicCreated(listener: (topic: string) => void): () => void;
}
