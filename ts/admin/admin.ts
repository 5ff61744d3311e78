/**
 * The kafkajs-compatible admin client, plus a lag report per group, topic
 * and partition (`fetchLag`).
 */
import type { Kafka } from '../client/kafka';
import type { Logger } from '../client/logger';
import { FerrologError, KafkaJSError, KafkaJSNonRetriableError, KafkaJSProtocolError } from '../errors';
import { AssignerProtocol } from '../group/assigners';
import { GroupCoordinator, OFFSETS_TOPIC } from '../group/coordinator';
import type { CommittedOffset } from '../group/types';
import type { Log, TopicConfigEntries } from '../log';

export interface ITopicConfig {
  topic: string;
  numPartitions?: number;
  replicationFactor?: number;
  replicaAssignment?: object[];
  configEntries?: { name: string; value: string }[];
}

export interface PartitionOffset {
  partition: number;
  offset: string;
}

export interface PartitionLag {
  partition: number;
  /** The group's committed offset, or '-1' when it has none. */
  committed: string;
  high: string;
  low: string;
  /** high - committed (high - low without a commit). */
  lag: string;
}

export class KafkaJSDeleteGroupsError extends KafkaJSNonRetriableError {
  readonly groups: { groupId: string; errorCode: number; error?: Error }[];
  constructor(message: string, groups: { groupId: string; errorCode: number; error?: Error }[]) {
    super(message);
    this.name = 'KafkaJSDeleteGroupsError';
    this.groups = groups;
  }
}

export class Admin {
  private readonly kafka: Kafka;
  private readonly log_: Logger;
  private log: Log | null = null;
  private coordinator: GroupCoordinator | null = null;

  constructor(kafka: Kafka) {
    this.kafka = kafka;
    this.log_ = kafka.logger().namespace('Admin');
  }

  logger(): Logger {
    return this.log_;
  }

  async connect(): Promise<void> {
    if (this.log !== null) return;
    this.coordinator = GroupCoordinator.acquire(() => this.kafka.openLog());
    this.log = this.kafka.openLog();
    try {
      await this.coordinator.ready();
    } catch (e) {
      const [coordinator, log] = [this.coordinator, this.log];
      this.coordinator = null;
      this.log = null;
      await log.close().catch(() => undefined);
      await coordinator.release().catch(() => undefined);
      throw e;
    }
  }

  async disconnect(): Promise<void> {
    const log = this.log;
    const coordinator = this.coordinator;
    this.log = null;
    this.coordinator = null;
    await log?.close();
    await coordinator?.release();
  }

  private l(): Log {
    if (this.log === null) throw new KafkaJSError('The admin client is not connected');
    return this.log;
  }

  private c(): GroupCoordinator {
    if (this.coordinator === null) throw new KafkaJSError('The admin client is not connected');
    return this.coordinator;
  }

  private partitionsOf(topic: string): number {
    const n = this.l().partitionCount(topic);
    if (n < 0)
      throw new KafkaJSProtocolError(
        `This server does not host this topic-partition: ${topic}`,
        'UNKNOWN_TOPIC_OR_PARTITION',
        3,
        false,
      );
    return n;
  }

  async listTopics(): Promise<string[]> {
    return this.l()
      .topics()
      .map((t) => t.name)
      .filter((n) => n !== OFFSETS_TOPIC);
  }

  /** Resolves true when every topic was created, false when some already existed. */
  async createTopics(options: {
    topics: ITopicConfig[];
    validateOnly?: boolean;
    waitForLeaders?: boolean;
    timeout?: number;
  }): Promise<boolean> {
    if (!options || !Array.isArray(options.topics))
      throw new KafkaJSNonRetriableError('Invalid topics array');
    const log = this.l();
    const plans = options.topics.map((t) => {
      if (typeof t?.topic !== 'string' || t.topic.length === 0)
        throw new KafkaJSNonRetriableError(`Invalid topic ${String(t?.topic)}`);
      const n =
        t.numPartitions === undefined || t.numPartitions === -1
          ? this.kafka.defaultNumPartitions
          : t.numPartitions;
      if (!Number.isInteger(n) || n < 1)
        throw new KafkaJSNonRetriableError(`Invalid numPartitions ${String(t.numPartitions)} for ${t.topic}`);
      const config: TopicConfigEntries = {};
      for (const e of t.configEntries ?? []) config[e.name] = e.value;
      return { topic: t.topic, partitions: n, config };
    });
    if (new Set(plans.map((p) => p.topic)).size !== plans.length)
      throw new KafkaJSNonRetriableError('Invalid topics array, duplicate topics');
    if (options.validateOnly) return true;
    let allCreated = true;
    for (const p of plans) {
      try {
        log.createTopic(p.topic, { partitions: p.partitions, config: p.config });
      } catch (e) {
        if (e instanceof FerrologError && e.code === 'ERR_TOPIC_EXISTS') allCreated = false;
        else throw e;
      }
    }
    return allCreated;
  }

  async deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void> {
    if (!options || !Array.isArray(options.topics))
      throw new KafkaJSNonRetriableError('Invalid topics array');
    for (const t of options.topics) {
      this.partitionsOf(t);
      this.l().deleteTopic(t);
    }
  }

  async createPartitions(options: {
    topicPartitions: { topic: string; count: number }[];
    validateOnly?: boolean;
  }): Promise<boolean> {
    if (!options || !Array.isArray(options.topicPartitions))
      throw new KafkaJSNonRetriableError('Invalid topic partitions array');
    for (const { topic, count } of options.topicPartitions) {
      this.partitionsOf(topic);
      if (!options.validateOnly) this.l().createPartitions(topic, count);
    }
    return true;
  }

  async fetchTopicMetadata(options: { topics?: string[] } = {}): Promise<{
    topics: {
      name: string;
      partitions: {
        partitionErrorCode: number;
        partitionId: number;
        leader: number;
        replicas: number[];
        isr: number[];
        offlineReplicas: number[];
      }[];
    }[];
  }> {
    const names = options.topics ?? (await this.listTopics());
    return {
      topics: names.map((name) => ({
        name,
        partitions: Array.from({ length: this.partitionsOf(name) }, (_, partitionId) => ({
          partitionErrorCode: 0,
          partitionId,
          leader: 0,
          replicas: [0],
          isr: [0],
          offlineReplicas: [],
        })),
      })),
    };
  }

  /** kafkajs' shape: `offset` and `high` are the high watermark, `low` the log start. */
  async fetchTopicOffsets(
    topic: string,
  ): Promise<{ partition: number; offset: string; high: string; low: string }[]> {
    const n = this.partitionsOf(topic);
    return Array.from({ length: n }, (_, partition) => {
      const w = this.l().watermarks(topic, partition);
      return {
        partition,
        offset: String(w.highWatermark),
        high: String(w.highWatermark),
        low: String(w.logStartOffset),
      };
    });
  }

  /** The first offset at or after `timestamp` per partition (the high watermark when none is). */
  async fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<PartitionOffset[]> {
    const n = this.partitionsOf(topic);
    return Array.from({ length: n }, (_, partition) => {
      const hw = this.l().watermarks(topic, partition).highWatermark;
      const o = timestamp === undefined ? null : this.l().offsetForTimestamp(topic, partition, timestamp);
      return { partition, offset: String(o ?? hw) };
    });
  }

  async fetchOffsets(options: {
    groupId: string;
    topics?: string[];
    resolveOffsets?: boolean;
  }): Promise<
    { topic: string; partitions: { partition: number; offset: string; metadata: string | null }[] }[]
  > {
    if (!options || typeof options.groupId !== 'string')
      throw new KafkaJSNonRetriableError('Invalid groupId');
    const all = await this.c().offsets(options.groupId);
    const committedOf = indexOffsets(all);
    const topics = options.topics ?? [...new Set(all.map((o) => o.topic))];
    return topics.map((topic) => ({
      topic,
      partitions: Array.from({ length: this.partitionsOf(topic) }, (_, partition) => {
        const committed = committedOf(topic, partition);
        let offset = committed === undefined ? '-1' : String(committed.offset);
        if (options.resolveOffsets && committed === undefined)
          offset = String(this.l().watermarks(topic, partition).highWatermark);
        return { partition, offset, metadata: committed?.metadata || null };
      }),
    }));
  }

  private async assertEmpty(groupId: string): Promise<void> {
    const d = await this.c().describe(groupId);
    const state = d.state;
    if (d.members.length > 0) {
      throw new KafkaJSNonRetriableError(
        `The consumer group must have no running instances, current state: ${state}`,
      );
    }
  }

  async setOffsets(options: {
    groupId: string;
    topic: string;
    partitions: { partition: number; offset: string }[];
  }): Promise<void> {
    if (!options || typeof options.groupId !== 'string')
      throw new KafkaJSNonRetriableError('Invalid groupId');
    await this.assertEmpty(options.groupId);
    this.partitionsOf(options.topic);
    await this.c().commitSimple(
      options.groupId,
      options.partitions.map((p) => ({
        topic: options.topic,
        partition: p.partition,
        offset: Number(p.offset),
      })),
    );
  }

  async resetOffsets(options: { groupId: string; topic: string; earliest?: boolean }): Promise<void> {
    if (!options || typeof options.groupId !== 'string')
      throw new KafkaJSNonRetriableError('Invalid groupId');
    await this.assertEmpty(options.groupId);
    const n = this.partitionsOf(options.topic);
    const commits = Array.from({ length: n }, (_, partition) => {
      const w = this.l().watermarks(options.topic, partition);
      return {
        topic: options.topic,
        partition,
        offset: options.earliest ? w.logStartOffset : w.highWatermark,
      };
    });
    await this.c().commitSimple(options.groupId, commits);
  }

  async describeGroups(groupIds: string[]): Promise<{
    groups: {
      groupId: string;
      errorCode: number;
      state: string;
      protocol: string;
      protocolType: string;
      members: {
        memberId: string;
        clientId: string;
        clientHost: string;
        memberAssignment: Record<string, number[]>;
      }[];
    }[];
  }> {
    if (!Array.isArray(groupIds))
      throw new KafkaJSNonRetriableError('describeGroups needs an array of group ids');
    const described = await this.c().calls.describe(groupIds);
    return {
      groups: described.map((d) => {
        const groupId = d.groupId;
        return {
          groupId,
          errorCode: 0,
          state: d.state,
          protocol: d.protocol,
          protocolType: d.protocolType || 'consumer',
          members: d.members.map((m) => ({
            memberId: m.memberId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberAssignment:
              m.memberAssignment.length === 0
                ? {}
                : (AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}),
          })),
        };
      }),
    };
  }

  async listGroups(): Promise<{ groups: { groupId: string; protocolType: string }[] }> {
    const listed = await this.c().calls.list(null);
    return {
      groups: listed
        .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType || 'consumer' }))
        .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0)),
    };
  }

  async deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]> {
    if (!Array.isArray(groupIds))
      throw new KafkaJSNonRetriableError('deleteGroups needs an array of group ids');
    const results: { groupId: string; errorCode: number; error?: Error }[] = [];
    for (const groupId of groupIds) {
      try {
        await this.c().deleteGroup(groupId);
        results.push({ groupId, errorCode: 0 });
      } catch (e) {
        const err = e as KafkaJSProtocolError;
        results.push({ groupId, errorCode: typeof err.code === 'number' ? err.code : -1, error: err });
      }
    }
    const failed = results.filter((r) => r.errorCode !== 0);
    if (failed.length > 0) {
      throw new KafkaJSDeleteGroupsError(
        `Error in DeleteGroups: ${failed.map((f) => `${f.groupId}: ${f.error?.message}`).join('; ')}`,
        failed,
      );
    }
    return results;
  }

  /** kafkajs' deleteTopicRecords; an offset of '-1' means the high watermark. */
  async deleteTopicRecords(options: { topic: string; partitions: PartitionOffset[] }): Promise<void> {
    if (!options || !Array.isArray(options.partitions))
      throw new KafkaJSNonRetriableError('Invalid partitions');
    this.partitionsOf(options.topic);
    for (const { partition, offset } of options.partitions) {
      const o =
        Number(offset) === -1 ? this.l().watermarks(options.topic, partition).highWatermark : Number(offset);
      this.l().deleteRecords(options.topic, partition, o);
    }
  }

  /** Beyond kafkajs: committed offset, high watermark and lag per partition of a group. */
  async fetchLag(options: {
    groupId: string;
    topics?: string[];
  }): Promise<{ topic: string; partitions: PartitionLag[]; totalLag: string }[]> {
    if (!options || typeof options.groupId !== 'string')
      throw new KafkaJSNonRetriableError('Invalid groupId');
    const all = await this.c().offsets(options.groupId);
    const committedOf = indexOffsets(all);
    const topics = options.topics ?? [...new Set(all.map((o) => o.topic))].sort();
    return topics.map((topic) => {
      let total = 0;
      const partitions = Array.from({ length: this.partitionsOf(topic) }, (_, partition) => {
        const w = this.l().watermarks(topic, partition);
        const committed = committedOf(topic, partition);
        const lag =
          w.highWatermark -
          (committed === undefined ? w.logStartOffset : Math.max(committed.offset, w.logStartOffset));
        total += lag;
        return {
          partition,
          committed: committed === undefined ? '-1' : String(committed.offset),
          high: String(w.highWatermark),
          low: String(w.logStartOffset),
          lag: String(lag),
        };
      });
      return { topic, partitions, totalLag: String(total) };
    });
  }
}

function indexOffsets(
  all: CommittedOffset[],
): (topic: string, partition: number) => CommittedOffset | undefined {
  const m = new Map<string, CommittedOffset>();
  for (const o of all) if (o.offset >= 0) m.set(`${o.topic}\u0000${o.partition}`, o);
  return (topic, partition) => m.get(`${topic}\u0000${partition}`);
}
