/**
 * The kafkajs-compatible admin client, plus a lag report per group, topic
 * and partition (`fetchLag`).
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import { LOCAL_NODE, partitionMetadata } from '../client/cluster';
import type { Logger } from '../client/logger';
import type { RetryOptions } from '../client/retry';
import {
  FerrologError,
  KafkaJSAlterPartitionReassignmentsError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSProtocolError,
} from '../errors';
import { GroupCoordinator, OFFSETS_TOPIC } from '../group/coordinator';
import type { CommittedOffset } from '../group/types';
import { kafkaCode } from '../kafka-codes';
import { type Log, nativeHandle, type TopicConfigEntries } from '../log';
import {
  type AdminEventMap,
  type AdminEvents,
  checkEventName,
  ADMIN_EVENTS as EVENTS,
  type RemoveInstrumentationEventListener,
} from '../types/events';
import {
  type AclEntry,
  type AclFilter,
  type AdminConfig,
  ConfigResourceTypes,
  type DeleteAclResponse,
  type DeleteGroupsResult,
  type DescribeAclResponse,
  type DescribeConfigResponse,
  type FetchOffsetsPartition,
  type GroupDescriptions,
  type GroupOverview,
  type IResourceConfig,
  type IResourceConfigEntry,
  type ITopicMetadata,
  type ITopicPartitionConfig,
  type KafkaJSDeleteGroupsErrorGroups,
  type ListPartitionReassignmentsResponse,
  type PartitionOffset,
  type PartitionReassignment,
  type ReplicaAssignment,
  type ResourceConfigQuery,
  type SeekEntry,
  type TopicPartitions,
} from '../types/kafkajs';
import * as acls from './acls';
import {
  describeBrokerConfig,
  describeTopicConfig,
  replacementConfig,
  VALID_RESOURCE_TYPES,
} from './configs';

export type { AdminEvents } from '../types/events';
export type { PartitionOffset } from '../types/kafkajs';

export interface ITopicConfig {
  topic: string;
  numPartitions?: number;
  replicationFactor?: number;
  replicaAssignment?: ReplicaAssignment[];
  configEntries?: IResourceConfigEntry[];
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

/** Retriable, as in kafkajs (it extends KafkaJSError there, not the non-retriable one). */
export class KafkaJSDeleteGroupsError extends KafkaJSError {
  readonly groups: DeleteGroupsResult[];
  constructor(e: Error | string, groups: (KafkaJSDeleteGroupsErrorGroups | DeleteGroupsResult)[] = []) {
    super(e);
    this.name = 'KafkaJSDeleteGroupsError';
    this.groups = groups as DeleteGroupsResult[];
  }
}

/**
 * What the admin needs of its client, given by `Kafka` (which has these
 * members): the admin does not import the `Kafka` class.
 */
export interface AdminContext {
  readonly dataDir: string;
  readonly retry: RetryOptions | undefined;
  readonly defaultNumPartitions: number;
  logger(): Logger;
  openLog(): Log;
  openLogWithRetry(retry?: RetryOptions): Promise<Log>;
  directoryTopicDefaults(): Record<string, string>;
}

export class Admin {
  readonly events: AdminEvents = EVENTS;
  private readonly kafka: AdminContext;
  private readonly adminLogger: Logger;
  private readonly emitter = new EventEmitter();
  /** kafkajs' `admin({ retry })`; in process only `connect` waits on a lock with it. */
  readonly retry: RetryOptions | undefined;
  private log: Log | null = null;
  private coordinator: GroupCoordinator | null = null;
  private requestId = 0;

  constructor(kafka: AdminContext, config: AdminConfig = {}) {
    this.kafka = kafka;
    this.adminLogger = kafka.logger().namespace('Admin');
    this.retry = config.retry ?? kafka.retry;
  }

  logger(): Logger {
    return this.adminLogger;
  }

  /** kafkajs' instrumentation events, the payload typed by the name; returns a function that removes the listener. */
  on<E extends keyof AdminEventMap>(
    eventName: E,
    listener: (event: AdminEventMap[E]) => void,
  ): RemoveInstrumentationEventListener<E> {
    checkEventName('admin', EVENTS, eventName);
    this.emitter.on(eventName, listener);
    return () => this.emitter.removeListener(eventName, listener);
  }

  private emit(type: string, payload: unknown): void {
    if (this.emitter.listenerCount(type) === 0) return;
    this.emitter.emit(type, { id: String(this.requestId++), type, timestamp: Date.now(), payload });
  }

  async connect(): Promise<void> {
    if (this.log !== null) return;
    const log = await this.kafka.openLogWithRetry(this.retry);
    try {
      this.coordinator = GroupCoordinator.acquire(() => this.kafka.openLog());
      await this.coordinator.ready();
    } catch (e) {
      const coordinator = this.coordinator;
      this.coordinator = null;
      await coordinator?.release().catch(() => undefined);
      await log.close();
      throw e;
    }
    this.log = log;
    this.emit(EVENTS.CONNECT, null);
  }

  async disconnect(): Promise<void> {
    const log = this.log;
    const coordinator = this.coordinator;
    this.log = null;
    this.coordinator = null;
    await log?.close();
    await coordinator?.release();
    if (log !== null) this.emit(EVENTS.DISCONNECT, null);
  }

  private connectedLog(): Log {
    if (this.log === null) throw new KafkaJSError('The admin client is not connected');
    return this.log;
  }

  private connectedCoordinator(): GroupCoordinator {
    if (this.coordinator === null) throw new KafkaJSError('The admin client is not connected');
    return this.coordinator;
  }

  private partitionsOf(topic: string): number {
    const n = this.connectedLog().partitionCount(topic);
    if (n < 0)
      throw new KafkaJSProtocolError(
        `This server does not host this topic-partition: ${topic}`,
        'UNKNOWN_TOPIC_OR_PARTITION',
        3,
        true,
      );
    return n;
  }

  async listTopics(): Promise<string[]> {
    return this.connectedLog()
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
    const log = this.connectedLog();
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
      this.connectedLog().deleteTopic(t);
    }
  }

  async createPartitions(options: {
    topicPartitions: ITopicPartitionConfig[];
    validateOnly?: boolean;
    timeout?: number;
  }): Promise<boolean> {
    if (!options || !Array.isArray(options.topicPartitions))
      throw new KafkaJSNonRetriableError('Invalid topic partitions array');
    for (const { topic, count } of options.topicPartitions) {
      this.partitionsOf(topic);
      if (!options.validateOnly) this.connectedLog().createPartitions(topic, count);
    }
    return true;
  }

  /** kafkajs' shape: `{ topics: [{ name, partitions: PartitionMetadata[] }] }`; no topics (or `[]`) means all. */
  async fetchTopicMetadata(options: { topics?: string[] } = {}): Promise<{ topics: ITopicMetadata[] }> {
    const topics = options?.topics ?? [];
    for (const t of topics) {
      if (!t || typeof t !== 'string') throw new KafkaJSNonRetriableError(`Invalid topic ${String(t)}`);
    }
    const names = topics.length === 0 ? await this.listTopics() : topics;
    return {
      topics: names.map((name) => ({ name, partitions: partitionMetadata(this.partitionsOf(name)) })),
    };
  }

  /** The one in-process node is broker and controller; the cluster id is derived from the data directory. */
  async describeCluster(): Promise<{
    brokers: Array<{ nodeId: number; host: string; port: number }>;
    controller: number | null;
    clusterId: string;
  }> {
    this.connectedLog();
    const clusterId = createHash('sha256')
      .update(path.resolve(this.kafka.dataDir))
      .digest('base64url')
      .slice(0, 22);
    return { brokers: [{ ...LOCAL_NODE }], controller: LOCAL_NODE.nodeId, clusterId };
  }

  private checkResources(resources: unknown, what: 'configNames' | 'configEntries'): void {
    if (!resources || !Array.isArray(resources))
      throw new KafkaJSNonRetriableError(`Invalid resources array ${String(resources)}`);
    if (resources.length === 0) throw new KafkaJSNonRetriableError('Resources array cannot be empty');
    for (const r of resources as { type: unknown; name: unknown }[]) {
      if (!VALID_RESOURCE_TYPES.includes(r?.type as number))
        throw new KafkaJSNonRetriableError(`Invalid resource type ${String(r?.type)}: ${JSON.stringify(r)}`);
      if (!r.name || typeof r.name !== 'string')
        throw new KafkaJSNonRetriableError(`Invalid resource name ${String(r.name)}: ${JSON.stringify(r)}`);
      const list = (r as Record<string, unknown>)[what];
      if (what === 'configNames' ? list != null && !Array.isArray(list) : !Array.isArray(list))
        throw new KafkaJSNonRetriableError(`Invalid resource ${what} ${String(list)}: ${JSON.stringify(r)}`);
    }
  }

  private topicConfig(name: string): Record<string, string> {
    const t = this.connectedLog()
      .topics()
      .find((d) => d.name === name);
    if (t === undefined) {
      throw new KafkaJSProtocolError(
        `This server does not host this topic-partition: ${name}`,
        'UNKNOWN_TOPIC_OR_PARTITION',
        3,
        true,
      );
    }
    return t.config;
  }

  /** kafkajs' describeConfigs: topics' configs with their sources, and the broker's (node "0"). */
  async describeConfigs(configs: {
    resources: ResourceConfigQuery[];
    includeSynonyms: boolean;
  }): Promise<DescribeConfigResponse> {
    this.checkResources(configs?.resources, 'configNames');
    const dirDefaults = this.kafka.directoryTopicDefaults();
    const synonyms = configs.includeSynonyms === true;
    const resources = configs.resources.map((r) => {
      let configEntries: DescribeConfigResponse['resources'][number]['configEntries'];
      if (r.type === ConfigResourceTypes.TOPIC) {
        configEntries = describeTopicConfig(this.topicConfig(r.name), dirDefaults, r.configNames, synonyms);
      } else if (r.type === ConfigResourceTypes.BROKER) {
        if (r.name !== String(LOCAL_NODE.nodeId))
          throw new KafkaJSProtocolError(
            `Broker ${r.name} does not exist`,
            'INVALID_REQUEST',
            kafkaCode('INVALID_REQUEST'),
            false,
          );
        configEntries = describeBrokerConfig(dirDefaults, r.configNames, synonyms);
      } else {
        // No loggers to configure in process.
        configEntries = [];
      }
      return {
        errorCode: 0,
        errorMessage: null as unknown as string,
        resourceType: r.type,
        resourceName: r.name,
        configEntries,
      };
    });
    return { resources, throttleTime: 0 };
  }

  /**
   * kafkajs' alterConfigs (Kafka's AlterConfigs): replaces a topic's
   * overrides with the entries given; configs not named go back to default.
   */
  async alterConfigs(configs: { validateOnly: boolean; resources: IResourceConfig[] }): Promise<{
    resources: {
      errorCode: number;
      errorMessage: string | null;
      resourceType: number;
      resourceName: string;
    }[];
  }> {
    this.checkResources(configs?.resources, 'configEntries');
    for (const r of configs.resources) {
      if (r.configEntries.some((e) => typeof e?.name !== 'string' || typeof e?.value !== 'string'))
        throw new KafkaJSNonRetriableError(`Invalid resource config value: ${JSON.stringify(r)}`);
    }
    const dirDefaults = this.kafka.directoryTopicDefaults();
    const plans = configs.resources.map((r) => {
      if (r.type !== ConfigResourceTypes.TOPIC) {
        throw new KafkaJSProtocolError(
          `Only topic configs can be altered in process, not resource type ${r.type}`,
          'INVALID_REQUEST',
          42,
          false,
        );
      }
      return { r, next: replacementConfig(this.topicConfig(r.name), dirDefaults, r.configEntries) };
    });
    if (!configs.validateOnly) for (const p of plans) this.connectedLog().alterTopicConfig(p.r.name, p.next);
    return {
      resources: plans.map((p) => ({
        errorCode: 0,
        errorMessage: null,
        resourceType: p.r.type,
        resourceName: p.r.name,
      })),
    };
  }

  /** The data directory's ACLs (ts/admin/acls.ts); the owner is not subject to them. */
  async describeAcls(options: AclFilter): Promise<DescribeAclResponse> {
    return acls.describeAcls(acls.localAcls(this.connectedLog()[nativeHandle]()), options);
  }

  async createAcls(options: { acl: AclEntry[] }): Promise<boolean> {
    return acls.createAcls(acls.localAcls(this.connectedLog()[nativeHandle]()), options);
  }

  async deleteAcls(options: { filters: AclFilter[] }): Promise<DeleteAclResponse> {
    return acls.deleteAcls(acls.localAcls(this.connectedLog()[nativeHandle]()), options);
  }

  /** One node holds every partition: only an assignment to node 0 is valid, and it is already in place. */
  async alterPartitionReassignments(request: {
    topics: PartitionReassignment[];
    timeout?: number;
  }): Promise<void> {
    if (!request || !Array.isArray(request.topics))
      throw new KafkaJSNonRetriableError(`Invalid topics array ${String(request?.topics)}`);
    for (const { topic, partitionAssignment } of request.topics) {
      const n = this.partitionsOf(topic);
      for (const a of partitionAssignment ?? []) {
        const valid =
          Number.isInteger(a.partition) &&
          a.partition >= 0 &&
          a.partition < n &&
          a.replicas.length === 1 &&
          a.replicas[0] === LOCAL_NODE.nodeId;
        if (!valid) {
          throw new KafkaJSAlterPartitionReassignmentsError(
            `Replica assignment is invalid: ${topic}-${a.partition} can only live on node ${LOCAL_NODE.nodeId}`,
            topic,
            a.partition,
          );
        }
      }
    }
  }

  /** Nothing is ever being moved in process. */
  async listPartitionReassignments(
    request: { topics?: TopicPartitions[]; timeout?: number } = {},
  ): Promise<ListPartitionReassignmentsResponse> {
    for (const t of request?.topics ?? []) this.partitionsOf(t.topic);
    return { topics: [] };
  }

  /** kafkajs' shape: `offset` and `high` are the high watermark, `low` the log start. */
  async fetchTopicOffsets(
    topic: string,
  ): Promise<{ partition: number; offset: string; high: string; low: string }[]> {
    const n = this.partitionsOf(topic);
    return Array.from({ length: n }, (_, partition) => {
      const w = this.connectedLog().watermarks(topic, partition);
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
      const hw = this.connectedLog().watermarks(topic, partition).highWatermark;
      const o =
        timestamp === undefined ? null : this.connectedLog().offsetForTimestamp(topic, partition, timestamp);
      return { partition, offset: String(o ?? hw) };
    });
  }

  async fetchOffsets(options: {
    groupId: string;
    topics?: string[];
    resolveOffsets?: boolean;
  }): Promise<{ topic: string; partitions: FetchOffsetsPartition[] }[]> {
    if (!options || typeof options.groupId !== 'string')
      throw new KafkaJSNonRetriableError('Invalid groupId');
    const all = await this.connectedCoordinator().offsets(options.groupId);
    const committedOf = indexOffsets(all);
    const topics = options.topics ?? [...new Set(all.map((o) => o.topic))];
    return topics.map((topic) => ({
      topic,
      partitions: Array.from({ length: this.partitionsOf(topic) }, (_, partition) => {
        const committed = committedOf(topic, partition);
        let offset = committed === undefined ? '-1' : String(committed.offset);
        if (options.resolveOffsets && committed === undefined)
          offset = String(this.connectedLog().watermarks(topic, partition).highWatermark);
        return { partition, offset, metadata: committed?.metadata || null };
      }),
    }));
  }

  private async assertEmpty(groupId: string): Promise<void> {
    const d = await this.connectedCoordinator().describe(groupId);
    const state = d.state;
    if (d.members.length > 0) {
      throw new KafkaJSNonRetriableError(
        `The consumer group must have no running instances, current state: ${state}`,
      );
    }
  }

  async setOffsets(options: { groupId: string; topic: string; partitions: SeekEntry[] }): Promise<void> {
    if (!options || typeof options.groupId !== 'string')
      throw new KafkaJSNonRetriableError('Invalid groupId');
    await this.assertEmpty(options.groupId);
    this.partitionsOf(options.topic);
    await this.connectedCoordinator().commitSimple(
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
      const w = this.connectedLog().watermarks(options.topic, partition);
      return {
        topic: options.topic,
        partition,
        offset: options.earliest ? w.logStartOffset : w.highWatermark,
      };
    });
    await this.connectedCoordinator().commitSimple(options.groupId, commits);
  }

  /** kafkajs' GroupDescriptions: member metadata and assignments are the encoded protocol bytes. */
  async describeGroups(groupIds: string[]): Promise<GroupDescriptions> {
    if (!Array.isArray(groupIds))
      throw new KafkaJSNonRetriableError('describeGroups needs an array of group ids');
    const described = await this.connectedCoordinator().calls.describe(groupIds);
    return {
      groups: described.map((d) => ({
        groupId: d.groupId,
        errorCode: 0,
        state: d.state,
        protocol: d.protocol,
        protocolType: d.protocolType || 'consumer',
        members: d.members.map((m) => ({
          memberId: m.memberId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.memberMetadata,
          memberAssignment: m.memberAssignment,
        })),
      })),
    };
  }

  async listGroups(): Promise<{ groups: GroupOverview[] }> {
    const listed = await this.connectedCoordinator().calls.list(null);
    return {
      groups: listed
        .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType || 'consumer' }))
        .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0)),
    };
  }

  async deleteGroups(groupIds: string[]): Promise<DeleteGroupsResult[]> {
    if (!Array.isArray(groupIds))
      throw new KafkaJSNonRetriableError('deleteGroups needs an array of group ids');
    const results: { groupId: string; errorCode: number; error?: KafkaJSProtocolError }[] = [];
    for (const groupId of groupIds) {
      try {
        await this.connectedCoordinator().deleteGroup(groupId);
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
  async deleteTopicRecords(options: { topic: string; partitions: SeekEntry[] }): Promise<void> {
    if (!options || !Array.isArray(options.partitions))
      throw new KafkaJSNonRetriableError('Invalid partitions');
    this.partitionsOf(options.topic);
    for (const { partition, offset } of options.partitions) {
      const o =
        Number(offset) === -1
          ? this.connectedLog().watermarks(options.topic, partition).highWatermark
          : Number(offset);
      this.connectedLog().deleteRecords(options.topic, partition, o);
    }
  }

  /** Beyond kafkajs: committed offset, high watermark and lag per partition of a group. */
  async fetchLag(options: {
    groupId: string;
    topics?: string[];
  }): Promise<{ topic: string; partitions: PartitionLag[]; totalLag: string }[]> {
    if (!options || typeof options.groupId !== 'string')
      throw new KafkaJSNonRetriableError('Invalid groupId');
    const all = await this.connectedCoordinator().offsets(options.groupId);
    const committedOf = indexOffsets(all);
    const topics = options.topics ?? [...new Set(all.map((o) => o.topic))].sort();
    return topics.map((topic) => {
      let total = 0;
      const partitions = Array.from({ length: this.partitionsOf(topic) }, (_, partition) => {
        const w = this.connectedLog().watermarks(topic, partition);
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
