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
import {
  ATTRIBUTES,
  BATCH_LENGTH,
  COMPRESSION_MASK,
  HEADER_BYTES,
  LAST_OFFSET_DELTA,
  LOG_OVERHEAD_BYTES,
  readInt64,
} from '../codec/format';
import { KafkaJSError, KafkaJSNotImplemented } from '../errors';
import { GroupMember, type MemberHooks } from '../group/member';
import type { CommittedOffset, DescribedGroup, GroupCalls } from '../group/types';
import type { Cluster, ConsumerGroupState } from '../types/kafkajs';
import { dropAborted } from './aborted';
import { call, kafkaError } from './kafka-errors';
import type { NativeRemoteClient, RemoteFetchResult } from './native-remote';
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
  return scan(buf).whole;
}

/**
 * The whole batches of `buf`, the offset after the last of them (-1: none),
 * and how many of their bytes are compressed batches.
 */
function scan(buf: Buffer): { whole: Buffer; nextOffset: number; compressedBytes: number } {
  let pos = 0;
  let nextOffset = -1;
  let compressedBytes = 0;
  while (buf.byteLength - pos >= LOG_OVERHEAD_BYTES) {
    const size = LOG_OVERHEAD_BYTES + buf.readInt32BE(pos + BATCH_LENGTH);
    if (size < LOG_OVERHEAD_BYTES || pos + size > buf.byteLength) break;
    // A batch too short for its header is kept for the decoder to report.
    if (size >= HEADER_BYTES) {
      nextOffset = readInt64(buf, pos) + buf.readInt32BE(pos + LAST_OFFSET_DELTA) + 1;
      if ((buf.readInt16BE(pos + ATTRIBUTES) & COMPRESSION_MASK) !== 0) compressedBytes += size;
    }
    pos += size;
  }
  return { whole: pos === buf.byteLength ? buf : buf.subarray(0, pos), nextOffset, compressedBytes };
}

/**
 * Fetch lanes: each consumer's fetches use connections of their own (see
 * Lane::Fetch in crates/client), so cancelling one consumer's long poll,
 * which closes the connection it waits on, leaves every other caller alone.
 * Lane 0 is the default of other callers (the mirror).
 */
let lanes = 0;

/** A request's identity: the same partitions at the same offsets, in any order, and the same options. */
function fetchKey(partitions: FetchPartition[], o: FetchOptions): string {
  const parts = partitions.map((p) => `${p.topic}\u0000${p.partition}\u0000${p.offset}\u0000${p.maxBytes}`);
  return `${o.maxWaitMs}/${o.minBytes}/${o.maxBytes}/${o.readUncommitted}\u0001${parts.sort().join('\u0001')}`;
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
  private readonly lane = ++lanes;
  /**
   * The next fetch, sent as soon as the previous one returned, while its
   * records are decoded and handled: the consumer's next round usually asks
   * for exactly this (same partitions, at the offsets after what came back)
   * and then finds it arrived or on its way. Anything else cancels it. One
   * at most, so at most one fetch response (maxBytes) is held ahead.
   */
  private ahead: { key: string; results: Promise<RemoteFetchResult[]> } | null = null;

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
    this.ahead = null;
    // The lane's connections go with the consumer (the client outlives it when shared).
    this.client_.releaseFetchLane(this.lane);
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

  private send(c: NativeRemoteClient, partitions: FetchPartition[], options: FetchOptions) {
    return c.fetch(partitions, {
      maxWaitMs: options.maxWaitMs,
      minBytes: options.minBytes,
      maxBytes: options.maxBytes,
      isolationLevel: options.readUncommitted ? 0 : 1,
      lane: this.lane,
    });
  }

  /** Cancels the fetch sent ahead (its response, if any, is dropped). */
  private dropAhead(c: NativeRemoteClient): void {
    if (this.ahead === null) return;
    this.ahead = null;
    c.cancelFetch(this.lane);
  }

  /**
   * One fetch. `options.signal` cuts a long poll short (seek, pause, stop):
   * the native fetch is cancelled and this returns [] at once; the
   * connection it waited on is closed rather than left owing a response.
   */
  async fetch(partitions: FetchPartition[], options: FetchOptions): Promise<FetchedPartition[]> {
    const c = this.client;
    const signal = options.signal;
    // A function: the abort happens while awaiting, which narrowing cannot see.
    const aborted = () => signal?.aborted === true;
    if (aborted()) return [];
    const key = fetchKey(partitions, options);
    let pending: Promise<RemoteFetchResult[]>;
    if (this.ahead !== null && this.ahead.key === key) {
      pending = this.ahead.results;
      this.ahead = null;
    } else {
      // Cancelled before the new fetch is sent: the cancel is by lane.
      this.dropAhead(c);
      pending = this.send(c, partitions, options);
    }
    const cancel = () => c.cancelFetch(this.lane);
    signal?.addEventListener('abort', cancel, { once: true });
    let results: RemoteFetchResult[];
    try {
      results = await call(() => pending);
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
    if (results.length === 0) return [];
    const out: FetchedPartition[] = [];
    const nextOffsets = new Map<string, number>();
    const limits = new Map(partitions.map((p) => [`${p.topic}\u0000${p.partition}`, p.maxBytes]));
    let clean = true;
    for (const r of results) {
      const { whole, nextOffset, compressedBytes } = scan(r.records);
      if (r.errorCode !== 0) clean = false;
      // The consumer stops decoding a partition's fetch once it inflated
      // maxBytes (the partition's limit) and asks again from there: then
      // the fetch sent ahead would be for the wrong offsets, and cancelling
      // it costs a new connection. Compression rarely packs 10x.
      if (compressedBytes * 10 > (limits.get(`${r.topic}\u0000${r.partition}`) ?? 0)) clean = false;
      nextOffsets.set(`${r.topic}\u0000${r.partition}`, nextOffset);
      out.push({
        topic: r.topic,
        partition: r.partition,
        errorCode: r.errorCode,
        batches: options.readUncommitted ? whole : dropAborted(whole, r.abortedTransactions),
        highWatermark: r.highWatermark,
        logStartOffset: r.logStartOffset,
      });
    }
    if (clean && !aborted() && this.client_ === c) {
      // The round after this one, as the consumer will ask for it: each
      // partition from after its last whole batch, the first partition
      // moved to the end (the consumer rotates the order per round so that
      // each partition gets to be first, which is where Kafka returns a
      // batch larger than the partition limit).
      const next = partitions.map((p) => ({
        ...p,
        offset: Math.max(p.offset, nextOffsets.get(`${p.topic}\u0000${p.partition}`) ?? -1),
      }));
      const first = next.shift();
      if (first !== undefined) next.push(first);
      const results = this.send(c, next, options);
      // A fetch sent ahead and never asked for must not become an unhandled rejection.
      results.catch(() => undefined);
      this.ahead = { key: fetchKey(next, options), results };
    }
    return out;
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
