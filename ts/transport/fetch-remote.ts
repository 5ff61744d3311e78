/**
 * The consumer's remote transport: Kafka's protocol through the native
 * client (crates/client, bound in crates/node/src/client.rs), to a ferrolog
 * broker or an Apache Kafka cluster. The group calls are Kafka's group APIs
 * sent to the group's coordinator; a fetch is one Fetch request for every
 * partition asked for, whose raw record batches go to the same decoder as
 * the local log's.
 */
import { partitionMetadata } from '../client/cluster';
import type { RetryOptions } from '../client/retry';
import { KafkaJSError, KafkaJSNotImplemented } from '../errors';
import { GroupMember, type MemberHooks } from '../group/member';
import type { CommittedOffset, DescribedGroup, GroupCalls } from '../group/types';
import type { Cluster, ConsumerGroupState } from '../types/kafkajs';
import { call, kafkaError } from './kafka-errors';
import type { NativeRemoteClient } from './native-remote';
import type { RemoteTransport } from './remote';
import type { ConsumerTransport, FetchedPartition, FetchOptions, FetchPartition } from './types';

/** Kafka's TOPIC_ALREADY_EXISTS. */
const TOPIC_ALREADY_EXISTS = 36;

/**
 * The whole batches at the front of fetched bytes: Kafka may end a fetch
 * response with a partial batch (the partition's byte limit cut it), which
 * the next fetch returns whole.
 */
export function wholeBatches(buf: Buffer): Buffer {
  let pos = 0;
  while (buf.byteLength - pos >= 12) {
    const size = 12 + buf.readInt32BE(pos + 8);
    if (size < 12 || pos + size > buf.byteLength) break;
    pos += size;
  }
  return pos === buf.byteLength ? buf : buf.subarray(0, pos);
}

/** The group APIs of the native client in the shape the group client speaks. */
function remoteGroupCalls(client: () => NativeRemoteClient): GroupCalls {
  return {
    join: async (req) => {
      const c = client();
      const j = await call(() =>
        c.joinGroup({
          groupId: req.groupId,
          sessionTimeoutMs: req.sessionTimeout,
          rebalanceTimeoutMs: req.rebalanceTimeout,
          memberId: req.memberId,
          // napi takes undefined, not null, for an absent field.
          ...(req.groupInstanceId === undefined || req.groupInstanceId === null
            ? {}
            : { groupInstanceId: req.groupInstanceId }),
          protocolType: req.protocolType,
          protocols: req.protocols,
        }),
      );
      return {
        errorCode: j.errorCode,
        generationId: j.generationId,
        protocolName: j.protocolName ?? null,
        leader: j.leader,
        skipAssignment: false,
        memberId: j.memberId,
        members: j.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId ?? null,
          metadata: m.metadata,
        })),
      };
    },
    sync: async (req) => {
      const c = client();
      const s = await call(() =>
        c.syncGroup(
          req.groupId,
          req.generationId,
          req.memberId,
          req.groupInstanceId ?? null,
          req.protocolType ?? 'consumer',
          req.protocolName ?? '',
          req.assignments,
        ),
      );
      return { errorCode: s.errorCode, protocolName: req.protocolName ?? null, assignment: s.assignment };
    },
    heartbeat: (req) => {
      const c = client();
      return call(() =>
        c.heartbeat(req.groupId, req.generationId, req.memberId, req.groupInstanceId ?? null),
      );
    },
    leave: async (groupId, members) => {
      const c = client();
      const out: { memberId: string; errorCode: number }[] = [];
      for (const m of members) {
        const code = await call(() => c.leaveGroup(groupId, m.memberId, m.groupInstanceId ?? null));
        out.push({ memberId: m.memberId, errorCode: code });
      }
      return { errorCode: 0, members: out };
    },
    commit: async (req) => {
      const c = client();
      const r = await call(() =>
        c.offsetCommit(
          req.groupId,
          req.generationId,
          req.memberId,
          req.groupInstanceId ?? null,
          req.offsets.map((o) => ({
            topic: o.topic,
            partition: o.partition,
            offset: o.offset,
            // napi takes undefined, not null, for an absent field.
            ...(o.metadata === undefined || o.metadata === null ? {} : { metadata: o.metadata }),
          })),
        ),
      );
      return {
        errorCode: 0,
        partitions: r.map((x) => ({ topic: x.topic, partition: x.partition, errorCode: x.errorCode })),
      };
    },
    fetchOffsets: async (groupId, topics): Promise<CommittedOffset[]> => {
      const c = client();
      const r = await call(() => c.offsetFetch(groupId, topics));
      return r.map((o) => {
        if (o.errorCode !== 0)
          throw kafkaError(o.errorCode, `OffsetFetch of group "${groupId}"`, {
            topic: o.topic,
            partition: o.partition,
          });
        return {
          topic: o.topic,
          partition: o.partition,
          offset: o.offset,
          leaderEpoch: -1,
          metadata: o.metadata ?? '',
          commitTimestamp: -1,
        };
      });
    },
    describe: async (groupIds): Promise<DescribedGroup[]> => {
      const c = client();
      const r = await call(() => c.describeGroups(groupIds));
      return r.map((d) => {
        if (d.errorCode !== 0) throw kafkaError(d.errorCode, `DescribeGroups of group "${d.groupId}"`);
        return {
          groupId: d.groupId,
          found: d.state !== 'Dead',
          state: d.state as ConsumerGroupState,
          protocolType: d.protocolType,
          protocol: d.protocol,
          generationId: -1,
          leader: '',
          members: d.members.map((m) => ({ ...m, groupInstanceId: m.groupInstanceId ?? null })),
        };
      });
    },
    list: async () => {
      const c = client();
      return call(() => c.listGroups());
    },
    delete: async (groupIds) => {
      const c = client();
      const r = await call(() => c.deleteGroups(groupIds));
      return r.map((x) => ({ groupId: x.name, errorCode: x.errorCode }));
    },
    deleteOffsets: () =>
      Promise.reject(new KafkaJSNotImplemented('OffsetDelete through a consumer of a remote cluster')),
  };
}

export class RemoteConsumerTransport implements ConsumerTransport {
  readonly kind = 'remote' as const;
  readonly groups: GroupCalls;
  private readonly shared: RemoteTransport;
  private client_: NativeRemoteClient | null = null;
  /** Partition counts by topic, from the last metadata that named the topic. */
  private readonly partitions = new Map<string, number>();
  private readonly internal = new Set<string>();

  constructor(shared: RemoteTransport) {
    this.shared = shared;
    this.groups = remoteGroupCalls(() => this.client);
  }

  private get client(): NativeRemoteClient {
    if (this.client_ === null) throw new KafkaJSError('The consumer is not connected', { retriable: false });
    return this.client_;
  }

  async connect(_retry: RetryOptions | undefined): Promise<void> {
    // The native client retries connections per the Kafka object's `retry`.
    this.client_ = await this.shared.acquire();
  }

  async close(): Promise<void> {
    if (this.client_ === null) return;
    this.client_ = null;
    await this.shared.release();
  }

  member(groupId: string, hooks: MemberHooks): GroupMember {
    return new GroupMember(this.groups, groupId, hooks);
  }

  forget(): void {
    // Members in this process learn of each other from the coordinator, as any client does.
  }

  validateCommits(): void {
    // The broker checks commits itself.
  }

  async refreshMetadata(topics: string[] | null): Promise<void> {
    const c = this.client;
    const meta = await call(() => c.metadata(topics));
    if (topics === null) this.partitions.clear();
    for (const t of meta.topics) {
      if (t.errorCode !== 0) {
        this.partitions.delete(t.name);
        continue;
      }
      if (t.isInternal) this.internal.add(t.name);
      this.partitions.set(t.name, t.partitions.length);
    }
  }

  topicNames(): string[] {
    return [...this.partitions.keys()].filter((t) => !this.internal.has(t));
  }

  partitionCount(topic: string): number {
    return this.partitions.get(topic) ?? -1;
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    const c = this.client;
    const [r] = await call(() =>
      c.createTopics([{ name: topic, numPartitions: partitions, replicationFactor: -1 }], 30_000, false),
    );
    if (r !== undefined && r.errorCode !== 0 && r.errorCode !== TOPIC_ALREADY_EXISTS)
      throw kafkaError(r.errorCode, r.errorMessage);
    await this.refreshMetadata([topic]);
  }

  async fetch(partitions: FetchPartition[], options: FetchOptions): Promise<FetchedPartition[]> {
    const c = this.client;
    const results = await call(() =>
      c.fetch(partitions, {
        maxWaitMs: options.maxWaitMs,
        minBytes: options.minBytes,
        maxBytes: options.maxBytes,
        isolationLevel: options.readUncommitted ? 0 : 1,
      }),
    );
    return results.map((r) => ({
      topic: r.topic,
      partition: r.partition,
      errorCode: r.errorCode,
      batches: wholeBatches(r.records),
      highWatermark: r.highWatermark,
      logStartOffset: r.logStartOffset,
    }));
  }

  async listOffsets(
    partitions: { topic: string; partition: number; timestamp: -1 | -2 }[],
  ): Promise<{ topic: string; partition: number; offset: number }[]> {
    if (partitions.length === 0) return [];
    const c = this.client;
    const r = await call(() =>
      c.listOffsets(partitions.map((p) => ({ topic: p.topic, partition: p.partition, value: p.timestamp }))),
    );
    return r.map((x) => {
      if (x.errorCode !== 0) throw kafkaError(x.errorCode, null, { topic: x.topic, partition: x.partition });
      return { topic: x.topic, partition: x.partition, offset: x.offset };
    });
  }

  assignerCluster(): Cluster {
    // Assigners written for kafkajs look partitions up; nothing else is answered here.
    return {
      findTopicPartitionMetadata: (topic: string) => partitionMetadata(this.partitionCount(topic)),
    } as unknown as Cluster;
  }

  onTopicCreated(): () => void {
    return () => undefined;
  }
}
