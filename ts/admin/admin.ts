/**
 * The kafkajs-compatible admin client, plus a lag report per group, topic
 * and partition (`fetchLag`). One class over either transport
 * (ts/admin/transport.ts): in process (local-transport.ts) or the Kafka
 * protocol (../transport/remote-admin.ts). This file owns what kafkajs'
 * admin does above the wire: argument checks with kafkajs' messages, result
 * shapes, kafkajs' error classes made from Kafka's codes, retries of
 * retriable failures, and the instrumentation events.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../client/logger';
import { type RetryOptions, withRetry } from '../client/retry';
import {
  KafkaJSAggregateError,
  KafkaJSAlterPartitionReassignmentsError,
  KafkaJSBrokerNotFound,
  KafkaJSDeleteTopicRecordsError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSProtocolError,
  KafkaJSTimeout,
} from '../errors';
import { kafkaCode } from '../kafka-codes';
import type { Log } from '../log';
import { kafkaError } from '../transport/kafka-errors';
import {
  type AdminEventMap,
  type AdminEvents,
  checkEventName,
  ADMIN_EVENTS as EVENTS,
  type RemoveInstrumentationEventListener,
} from '../types/events';
import type {
  AclEntry,
  AclFilter,
  AdminConfig,
  ConsumerGroupState,
  DeleteAclResponse,
  DeleteGroupsResult,
  DescribeAclResponse,
  DescribeConfigResponse,
  FetchOffsetsPartition,
  GroupDescriptions,
  GroupOverview,
  IResourceConfig,
  IResourceConfigEntry,
  ITopicMetadata,
  ITopicPartitionConfig,
  KafkaJSDeleteGroupsErrorGroups,
  ListPartitionReassignmentsResponse,
  PartitionOffset,
  PartitionReassignment,
  ReplicaAssignment,
  ResourceConfigQuery,
  SeekEntry,
  TopicPartitions,
} from '../types/kafkajs';
import * as acls from './acls';
import { VALID_RESOURCE_TYPES } from './configs';
import type { AdminMetadata, AdminTransport, OffsetAnswer, PartitionResult } from './transport';

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

/** kafkajs' per-topic error inside createTopics' KafkaJSAggregateError (not exported by kafkajs either). */
class KafkaJSCreateTopicError extends KafkaJSProtocolError {
  readonly topic: string;
  constructor(e: KafkaJSProtocolError, topic: string) {
    super(e);
    this.name = 'KafkaJSCreateTopicError';
    this.topic = topic;
  }
}

/**
 * What the in-process transport needs of its client, given by `Kafka`
 * (which has these members): the admin does not import the `Kafka` class.
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

/** What `Admin` needs of its client: a logger, the retry settings, and a transport. */
export interface AdminOptions {
  logger: Logger;
  retry: RetryOptions | undefined;
  transport: AdminTransport;
}

const LATEST = -1;
const EARLIEST = -2;
const DEFAULT_TIMEOUT = 5000;

/**
 * kafkajs's checks of a list of per-topic entries, with its messages: an
 * array, every entry naming a topic, no topic twice. `what` names the list
 * in the messages ("topics", "topic partitions").
 */
function checkTopicEntries<T extends { topic: unknown }>(
  list: T[] | null | undefined,
  what: string,
): asserts list is T[] {
  if (!list || !Array.isArray(list))
    throw new KafkaJSNonRetriableError(`Invalid ${what} array ${String(list)}`);
  if (list.some((t) => typeof t?.topic !== 'string'))
    throw new KafkaJSNonRetriableError(`Invalid ${what} array, the topic names have to be a valid string`);
  if (new Set(list.map((t) => t.topic)).size < list.length)
    throw new KafkaJSNonRetriableError(
      `Invalid ${what} array, it cannot have multiple entries for the same topic`,
    );
}

/** What a group with members answers a commit from outside it. */
const REBALANCE_CODES: number[] = [
  kafkaCode('UNKNOWN_MEMBER_ID'),
  kafkaCode('ILLEGAL_GENERATION'),
  kafkaCode('REBALANCE_IN_PROGRESS'),
];

function firstError<T extends { errorCode: number; errorMessage?: string | null }>(
  results: T[],
): T | undefined {
  return results.find((r) => r.errorCode !== 0);
}

function partitionError(r: PartitionResult): KafkaJSProtocolError {
  return kafkaError(r.errorCode, r.errorMessage ?? null, { topic: r.topic, partition: r.partition });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Admin {
  readonly events: AdminEvents = EVENTS;
  private readonly transport: AdminTransport;
  private readonly adminLogger: Logger;
  private readonly emitter = new EventEmitter();
  /** kafkajs' `admin({ retry })`: connecting and retriable failures are retried with it. */
  readonly retry: RetryOptions | undefined;
  private connected = false;
  private requestId = 0;

  constructor(options: AdminOptions, config: AdminConfig = {}) {
    this.transport = options.transport;
    this.adminLogger = options.logger.namespace('Admin');
    this.retry = config.retry ?? options.retry;
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
    if (this.connected) return;
    await this.transport.connect(this.retry);
    this.connected = true;
    this.emit(EVENTS.CONNECT, null);
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.transport.disconnect();
    this.emit(EVENTS.DISCONNECT, null);
  }

  /**
   * One transport call, retried as kafkajs retries its requests: failures
   * that are retriable (a lost connection, a timeout, a coordinator moving)
   * with the admin's `retry`; per-item error codes are answers, not failures.
   */
  private send<T>(fn: (t: AdminTransport) => Promise<T>): Promise<T> {
    if (!this.connected) return Promise.reject(new KafkaJSError('The admin client is not connected'));
    return withRetry(this.retry, () => fn(this.transport));
  }

  private async metadata(topics: string[] | null): Promise<AdminMetadata> {
    return this.send((t) => t.metadata(topics));
  }

  /** The partition ids of `topic`, sorted; UNKNOWN_TOPIC_OR_PARTITION when it does not exist. */
  private async partitionsOf(topic: string): Promise<number[]> {
    const m = await this.metadata([topic]);
    const t = m.topics.find((x) => x.name === topic);
    if (t === undefined || t.errorCode !== 0)
      throw kafkaError(
        t?.errorCode ?? kafkaCode('UNKNOWN_TOPIC_OR_PARTITION'),
        `This server does not host this topic-partition: ${topic}`,
      );
    return t.partitions.map((p) => p.partition).sort((a, b) => a - b);
  }

  /** Offsets at `timestamp` (-1 latest, -2 earliest) of every partition given, by partition. */
  private async offsetsAt(
    topic: string,
    partitions: number[],
    timestamp: number,
  ): Promise<Map<number, number>> {
    const answers: OffsetAnswer[] = await this.send((t) =>
      t.listOffsets(partitions.map((partition) => ({ topic, partition, timestamp }))),
    );
    const out = new Map<number, number>();
    for (const a of answers) {
      if (a.errorCode !== 0) throw partitionError(a);
      out.set(a.partition, a.offset);
    }
    return out;
  }

  /** Polls metadata (bounded by `timeoutMs`) until every partition of `want` has a leader. */
  private async waitForLeaders(want: { topic: string; count?: number }[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const names = want.map((w) => w.topic);
    for (;;) {
      const m = await this.metadata(names);
      const ready = want.every((w) => {
        const t = m.topics.find((x) => x.name === w.topic);
        return (
          t !== undefined &&
          t.errorCode === 0 &&
          t.partitions.length > 0 &&
          t.partitions.length >= (w.count ?? 0) &&
          t.partitions.every((p) => p.leader >= 0)
        );
      });
      if (ready) return;
      if (Date.now() >= deadline) throw new KafkaJSTimeout('Timed out while waiting for topic leaders');
      await sleep(100);
    }
  }

  async listTopics(): Promise<string[]> {
    const m = await this.metadata(null);
    return m.topics.filter((t) => !t.isInternal && t.errorCode === 0).map((t) => t.name);
  }

  /** Resolves true when every topic was created, false when every failure was TOPIC_ALREADY_EXISTS. */
  async createTopics(options: {
    topics: ITopicConfig[];
    validateOnly?: boolean;
    waitForLeaders?: boolean;
    timeout?: number;
  }): Promise<boolean> {
    const topics = options?.topics;
    checkTopicEntries(topics, 'topics');
    for (const { topic, configEntries } of topics) {
      if (configEntries == null) continue;
      if (!Array.isArray(configEntries))
        throw new KafkaJSNonRetriableError(`Invalid configEntries for topic "${topic}", must be an array`);
      configEntries.forEach((entry, index) => {
        if (typeof entry !== 'object' || entry == null)
          throw new KafkaJSNonRetriableError(
            `Invalid configEntries for topic "${topic}". Entry ${index} must be an object`,
          );
        for (const key of ['name', 'value'] as const) {
          if (!Object.hasOwn(entry, key) || typeof entry[key] !== 'string')
            throw new KafkaJSNonRetriableError(
              `Invalid configEntries for topic "${topic}". Entry ${index} must have a valid "${key}" property`,
            );
        }
      });
    }
    const timeout = options.timeout ?? DEFAULT_TIMEOUT;
    const validateOnly = options.validateOnly === true;
    const requests = topics.map((t) => {
      const configs: Record<string, string> = {};
      for (const e of t.configEntries ?? []) configs[e.name] = e.value;
      return {
        name: t.topic,
        numPartitions: t.numPartitions ?? -1,
        replicationFactor: t.replicationFactor ?? -1,
        configs,
      };
    });
    const results = await this.send((t) => t.createTopics(requests, timeout, validateOnly));
    const failed = results.filter((r) => r.errorCode !== 0);
    if (failed.length > 0) {
      if (failed.every((r) => r.errorCode === kafkaCode('TOPIC_ALREADY_EXISTS'))) return false;
      throw new KafkaJSAggregateError(
        'Topic creation errors',
        failed.map((r) => new KafkaJSCreateTopicError(kafkaError(r.errorCode, r.errorMessage), r.name)),
      );
    }
    if (options.waitForLeaders !== false && !validateOnly)
      await this.waitForLeaders(
        topics.map((t) => ({ topic: t.topic })),
        timeout,
      );
    return true;
  }

  async deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void> {
    const topics = options?.topics;
    if (!topics || !Array.isArray(topics))
      throw new KafkaJSNonRetriableError(`Invalid topics array ${String(topics)}`);
    if (topics.some((t) => typeof t !== 'string'))
      throw new KafkaJSNonRetriableError('Invalid topics array, the names must be a valid string');
    const results = await this.send((t) => t.deleteTopics(topics, options.timeout ?? DEFAULT_TIMEOUT));
    const bad = firstError(results);
    if (bad !== undefined) throw kafkaError(bad.errorCode, bad.errorMessage ?? bad.name);
  }

  async createPartitions(options: {
    topicPartitions: ITopicPartitionConfig[];
    validateOnly?: boolean;
    timeout?: number;
  }): Promise<boolean> {
    const tps = options?.topicPartitions;
    checkTopicEntries(tps, 'topic partitions');
    // After the shared checks, which an empty array passes: kafkajs's message.
    if (tps.length === 0) throw new KafkaJSNonRetriableError('Empty topic partitions array');
    const timeout = options.timeout ?? DEFAULT_TIMEOUT;
    const validateOnly = options.validateOnly === true;
    const req = tps.map((t) => ({ topic: t.topic, count: t.count }));
    const results = await this.send((t) => t.createPartitions(req, timeout, validateOnly));
    const bad = firstError(results);
    if (bad !== undefined) throw kafkaError(bad.errorCode, bad.errorMessage ?? bad.name);
    // The new partitions are usable when this resolves, on every target.
    if (!validateOnly) await this.waitForLeaders(req, timeout);
    return true;
  }

  /** kafkajs' shape: `{ topics: [{ name, partitions: PartitionMetadata[] }] }`; no topics (or `[]`) means all but internal ones. */
  async fetchTopicMetadata(options: { topics?: string[] } = {}): Promise<{ topics: ITopicMetadata[] }> {
    const topics = options?.topics ?? [];
    for (const t of topics) {
      if (!t || typeof t !== 'string') throw new KafkaJSNonRetriableError(`Invalid topic ${String(t)}`);
    }
    const m = await this.metadata(topics.length === 0 ? null : topics);
    const listed =
      topics.length === 0 ? m.topics.filter((t) => !t.isInternal && t.errorCode === 0) : m.topics;
    const order = topics.length === 0 ? listed.map((t) => t.name) : topics;
    return {
      topics: order.map((name) => {
        const t = listed.find((x) => x.name === name);
        if (t === undefined || t.errorCode !== 0)
          throw kafkaError(
            t?.errorCode ?? kafkaCode('UNKNOWN_TOPIC_OR_PARTITION'),
            `This server does not host this topic-partition: ${name}`,
          );
        return {
          name,
          partitions: [...t.partitions]
            .sort((a, b) => a.partition - b.partition)
            .map((p) => ({
              partitionErrorCode: p.errorCode,
              partitionId: p.partition,
              leader: p.leader,
              replicas: p.replicas,
              isr: p.isr,
              offlineReplicas: p.offlineReplicas,
            })),
        };
      }),
    };
  }

  /** kafkajs' describeCluster, from a Metadata answer for no topics. */
  async describeCluster(): Promise<{
    brokers: Array<{ nodeId: number; host: string; port: number }>;
    controller: number | null;
    clusterId: string;
  }> {
    const m = await this.metadata([]);
    return {
      brokers: m.brokers.map(({ nodeId, host, port }) => ({ nodeId, host, port })),
      controller: m.controllerId < 0 ? null : m.controllerId,
      clusterId: m.clusterId ?? '',
    };
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

  /** kafkajs' describeConfigs: configs with their sources (synonyms in process only, see README). */
  async describeConfigs(configs: {
    resources: ResourceConfigQuery[];
    includeSynonyms: boolean;
  }): Promise<DescribeConfigResponse> {
    this.checkResources(configs?.resources, 'configNames');
    const synonyms = configs.includeSynonyms === true;
    const query = configs.resources.map((r) => ({
      type: r.type,
      name: r.name,
      configNames: r.configNames ?? null,
    }));
    const answers = await this.send((t) => t.describeConfigs(query, synonyms));
    const bad = firstError(answers);
    if (bad !== undefined) throw kafkaError(bad.errorCode, bad.errorMessage ?? bad.resourceName);
    return {
      resources: answers.map((a) => ({
        errorCode: 0,
        errorMessage: null as unknown as string,
        resourceType: a.resourceType,
        resourceName: a.resourceName,
        configEntries: a.configEntries.map((e) => ({
          configName: e.configName,
          configValue: e.configValue as string,
          readOnly: e.readOnly,
          isDefault: e.isDefault,
          configSource: e.configSource,
          isSensitive: e.isSensitive,
          configSynonyms: (e.configSynonyms ?? []).map((s) => ({
            configName: s.configName,
            configValue: s.configValue as string,
            configSource: s.configSource,
          })),
        })),
      })),
      throttleTime: 0,
    };
  }

  /**
   * kafkajs' alterConfigs (Kafka's AlterConfigs): replaces a resource's
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
    const req = configs.resources.map((r) => ({
      type: r.type,
      name: r.name,
      configEntries: r.configEntries.map((e) => ({ name: e.name, value: e.value })),
    }));
    const results = await this.send((t) => t.alterConfigs(req, configs.validateOnly === true));
    const bad = firstError(results);
    if (bad !== undefined) throw kafkaError(bad.errorCode, bad.errorMessage ?? bad.name);
    return {
      resources: configs.resources.map((r) => ({
        errorCode: 0,
        errorMessage: null,
        resourceType: r.type,
        resourceName: r.name,
      })),
    };
  }

  /** ACLs (ts/admin/acls.ts): the data directory's in process (its owner is not subject to them), the broker's remotely. */
  async describeAcls(options: AclFilter): Promise<DescribeAclResponse> {
    return acls.describeAcls(this.aclCalls(), options);
  }

  async createAcls(options: { acl: AclEntry[] }): Promise<boolean> {
    return acls.createAcls(this.aclCalls(), options);
  }

  async deleteAcls(options: { filters: AclFilter[] }): Promise<DeleteAclResponse> {
    return acls.deleteAcls(this.aclCalls(), options);
  }

  private aclCalls(): acls.AclCalls {
    if (!this.connected) throw new KafkaJSError('The admin client is not connected');
    return this.transport.acls();
  }

  /**
   * kafkajs' alterPartitionReassignments. Partition failures reject with
   * kafkajs' KafkaJSAggregateError of KafkaJSAlterPartitionReassignmentsError
   * (in process only node 0 is a valid replica set).
   */
  async alterPartitionReassignments(request: {
    topics: PartitionReassignment[];
    timeout?: number;
  }): Promise<void> {
    const topics = request?.topics;
    checkTopicEntries(topics, 'topics');
    for (const { topic, partitionAssignment } of topics) {
      if (!partitionAssignment || !Array.isArray(partitionAssignment))
        throw new KafkaJSNonRetriableError(
          `Invalid partitions array: ${String(partitionAssignment)} for topic: ${topic}`,
        );
      for (const { partition, replicas } of partitionAssignment) {
        if (partition == null || typeof partition !== 'number' || partition < 0)
          throw new KafkaJSNonRetriableError(
            `Invalid partitions index: ${String(partition)} for topic: ${topic}`,
          );
        if (!replicas || !Array.isArray(replicas))
          throw new KafkaJSNonRetriableError(
            `Invalid replica assignment: ${String(replicas)} for topic: ${topic} on partition: ${partition}`,
          );
        if (replicas.some((r) => typeof r !== 'number' || r < 0))
          throw new KafkaJSNonRetriableError(
            `Invalid replica assignment: ${String(replicas)} for topic: ${topic} on partition: ${partition}. Replicas must be a non negative number`,
          );
      }
    }
    const req = topics.flatMap(({ topic, partitionAssignment }) =>
      partitionAssignment.map(({ partition, replicas }) => ({ topic, partition, replicas })),
    );
    const results = await this.send((t) =>
      t.alterPartitionReassignments(req, request.timeout ?? DEFAULT_TIMEOUT),
    );
    const failed = results.filter((r) => r.errorCode !== 0);
    if (failed.length > 0)
      throw new KafkaJSAggregateError(
        'Errors altering partition reassignments',
        failed.map(
          (r) =>
            new KafkaJSAlterPartitionReassignmentsError(
              kafkaError(r.errorCode, r.errorMessage ?? null),
              r.topic,
              r.partition,
            ),
        ),
      );
  }

  /** kafkajs' listPartitionReassignments, in its declared shape (`topic`, `partitionIndex`). */
  async listPartitionReassignments(
    request: { topics?: TopicPartitions[]; timeout?: number } = {},
  ): Promise<ListPartitionReassignmentsResponse> {
    const topics = request?.topics ?? null;
    if (topics) {
      checkTopicEntries(topics, 'topics');
      for (const { topic, partitions } of topics) {
        if (!partitions || !Array.isArray(partitions))
          throw new KafkaJSNonRetriableError(
            `Invalid partition array: ${String(partitions)} for topic: ${topic}`,
          );
        if (partitions.some((p) => typeof p !== 'number' || p < 0))
          throw new KafkaJSNonRetriableError(
            `Invalid partition array: ${String(partitions)} for topic: ${topic}. The partition indices have to be a valid number greater than 0.`,
          );
      }
    }
    const req = topics === null ? null : topics.map((t) => ({ topic: t.topic, partitions: t.partitions }));
    const ongoing = await this.send((t) =>
      t.listPartitionReassignments(req, request?.timeout ?? DEFAULT_TIMEOUT),
    );
    const byTopic = new Map<string, ListPartitionReassignmentsResponse['topics'][number]>();
    for (const o of ongoing) {
      let t = byTopic.get(o.topic);
      if (t === undefined) {
        t = { topic: o.topic, partitions: [] };
        byTopic.set(o.topic, t);
      }
      t.partitions.push({
        partitionIndex: o.partition,
        replicas: o.replicas,
        addingReplicas: o.addingReplicas,
        removingReplicas: o.removingReplicas,
      });
    }
    return { topics: [...byTopic.values()] };
  }

  /** kafkajs' shape: `offset` and `high` are the high watermark, `low` the log start. */
  async fetchTopicOffsets(
    topic: string,
  ): Promise<{ partition: number; offset: string; high: string; low: string }[]> {
    if (!topic || typeof topic !== 'string')
      throw new KafkaJSNonRetriableError(`Invalid topic ${String(topic)}`);
    const parts = await this.partitionsOf(topic);
    const high = await this.offsetsAt(topic, parts, LATEST);
    const low = await this.offsetsAt(topic, parts, EARLIEST);
    return parts.map((partition) => {
      const h = String(high.get(partition));
      return { partition, offset: h, high: h, low: String(low.get(partition)) };
    });
  }

  /** The first offset at or after `timestamp` per partition (the high watermark when none is, or without a timestamp). */
  async fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<PartitionOffset[]> {
    if (!topic || typeof topic !== 'string')
      throw new KafkaJSNonRetriableError(`Invalid topic ${String(topic)}`);
    const parts = await this.partitionsOf(topic);
    const high = await this.offsetsAt(topic, parts, LATEST);
    const at = timestamp === undefined ? high : await this.offsetsAt(topic, parts, timestamp);
    return parts.map((partition) => {
      const o = at.get(partition) ?? -1;
      return { partition, offset: String(o >= 0 ? o : high.get(partition)) };
    });
  }

  /**
   * kafkajs' fetchOffsets: every partition of `topics` ('-1' where nothing
   * is committed), or the partitions the group has offsets for. With
   * `resolveOffsets`, '-1'/'-2' become the high/low watermark and are
   * committed, as kafkajs does.
   */
  async fetchOffsets(options: {
    groupId: string;
    topics?: string[];
    resolveOffsets?: boolean;
  }): Promise<{ topic: string; partitions: FetchOffsetsPartition[] }[]> {
    const groupId = options?.groupId;
    if (!groupId) throw new KafkaJSNonRetriableError(`Invalid groupId ${String(groupId)}`);
    const topics = options.topics ?? [];
    if (!Array.isArray(topics)) throw new KafkaJSNonRetriableError('Expected topics array to be set');
    const req: { topic: string; partitions: number[] }[] = [];
    for (const topic of topics) req.push({ topic, partitions: await this.partitionsOf(topic) });
    const committed = await this.send((t) => t.offsetFetch(groupId, req.length === 0 ? null : req));
    const bad = committed.find((c) => c.errorCode !== 0);
    if (bad !== undefined) throw partitionError(bad);
    const order =
      topics.length > 0
        ? topics
        : [...new Set(committed.filter((c) => c.offset >= 0).map((c) => c.topic))].sort();
    const out: { topic: string; partitions: FetchOffsetsPartition[] }[] = [];
    for (const topic of order) {
      let partitions = committed
        .filter((c) => c.topic === topic && (topics.length > 0 || c.offset >= 0))
        .sort((a, b) => a.partition - b.partition)
        .map((c) => ({ partition: c.partition, offset: String(c.offset), metadata: c.metadata || null }));
      if (options.resolveOffsets === true && partitions.some((p) => p.offset === '-1' || p.offset === '-2')) {
        const w = await this.fetchTopicOffsets(topic);
        partitions = partitions.map((p) => {
          const at = w.find((x) => x.partition === p.partition);
          if (p.offset === String(LATEST)) return { ...p, offset: at?.high ?? p.offset };
          if (p.offset === String(EARLIEST)) return { ...p, offset: at?.low ?? p.offset };
          return p;
        });
        await this.setOffsets({ groupId, topic, partitions });
      }
      out.push({ topic, partitions });
    }
    return out;
  }

  /** kafkajs' check: offsets of a group can only be set from outside while it has no members. */
  private async assertNoMembers(groupId: string): Promise<void> {
    const [d] = await this.send((t) => t.describeGroups([groupId]));
    // A group nobody has used yet: Kafka 4 answers GROUP_ID_NOT_FOUND (older brokers: Dead, no error).
    if (d === undefined || d.errorCode === kafkaCode('GROUP_ID_NOT_FOUND')) return;
    if (d.errorCode !== 0) throw kafkaError(d.errorCode, `group "${groupId}"`);
    if (d.members.length > 0)
      throw new KafkaJSNonRetriableError(
        `The consumer group must have no running instances, current state: ${d.state}`,
      );
  }

  /** kafkajs' setOffsets; an offset of '-1' or '-2' is the high or low watermark, as a consumer's seek takes it. */
  async setOffsets(options: { groupId: string; topic: string; partitions: SeekEntry[] }): Promise<void> {
    const { groupId, topic, partitions } = options ?? ({} as typeof options);
    if (!groupId) throw new KafkaJSNonRetriableError(`Invalid groupId ${String(groupId)}`);
    if (!topic) throw new KafkaJSNonRetriableError(`Invalid topic ${String(topic)}`);
    if (!partitions || partitions.length === 0) throw new KafkaJSNonRetriableError('Invalid partitions');
    const known = await this.partitionsOf(topic);
    await this.assertNoMembers(groupId);
    const symbolic = partitions.filter((p) => Number(p.offset) === LATEST || Number(p.offset) === EARLIEST);
    const high = symbolic.some((p) => Number(p.offset) === LATEST)
      ? await this.offsetsAt(topic, known, LATEST)
      : null;
    const low = symbolic.some((p) => Number(p.offset) === EARLIEST)
      ? await this.offsetsAt(topic, known, EARLIEST)
      : null;
    const offsets = partitions.map(({ partition, offset }) => {
      const n = Number(offset);
      const resolved = n === LATEST ? high?.get(partition) : n === EARLIEST ? low?.get(partition) : n;
      if (resolved === undefined || !Number.isSafeInteger(resolved) || resolved < 0)
        throw new KafkaJSNonRetriableError(`Invalid offset ${String(offset)} for ${topic}-${partition}`);
      return { topic, partition, offset: resolved };
    });
    const results = await this.send((t) => t.offsetCommit(groupId, offsets));
    for (const r of results) {
      if (REBALANCE_CODES.includes(r.errorCode))
        throw new KafkaJSNonRetriableError(
          'The consumer group must have no running instances, current state: Stable',
        );
      if (r.errorCode !== 0) throw partitionError(r);
    }
  }

  async resetOffsets(options: { groupId: string; topic: string; earliest?: boolean }): Promise<void> {
    const { groupId, topic } = options ?? ({} as typeof options);
    if (!groupId) throw new KafkaJSNonRetriableError(`Invalid groupId ${String(groupId)}`);
    if (!topic) throw new KafkaJSNonRetriableError(`Invalid topic ${String(topic)}`);
    const parts = await this.partitionsOf(topic);
    const offset = String(options.earliest === true ? EARLIEST : LATEST);
    await this.setOffsets({ groupId, topic, partitions: parts.map((partition) => ({ partition, offset })) });
  }

  /** kafkajs' GroupDescriptions: member metadata and assignments are the encoded protocol bytes. */
  async describeGroups(groupIds: string[]): Promise<GroupDescriptions> {
    if (!Array.isArray(groupIds))
      throw new KafkaJSNonRetriableError(`Invalid groupIds array ${String(groupIds)}`);
    const described = await this.send((t) => t.describeGroups(groupIds));
    // Each transport already answers in kafkajs' shape (GroupAnswer).
    return { groups: described.map((d) => ({ ...d, state: d.state as ConsumerGroupState })) };
  }

  /** kafkajs' listGroups, sorted by group id. */
  async listGroups(): Promise<{ groups: GroupOverview[] }> {
    const listed = await this.send((t) => t.listGroups());
    return {
      groups: listed
        .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType }))
        .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0)),
    };
  }

  /** kafkajs' deleteGroups: any failure rejects with KafkaJSDeleteGroupsError listing the failed groups. */
  async deleteGroups(groupIds: string[]): Promise<DeleteGroupsResult[]> {
    if (!groupIds || !Array.isArray(groupIds))
      throw new KafkaJSNonRetriableError(`Invalid groupIds array ${String(groupIds)}`);
    if (groupIds.some((g) => typeof g !== 'string'))
      throw new KafkaJSNonRetriableError('Invalid groupId name: true');
    if (groupIds.length === 0) return [];
    const results = await this.send((t) => t.deleteGroups(groupIds));
    const shaped = results.map((r) =>
      r.errorCode === 0
        ? { groupId: r.name, errorCode: 0 }
        : { groupId: r.name, errorCode: r.errorCode, error: kafkaError(r.errorCode, r.errorMessage ?? null) },
    );
    const failed = shaped.filter((r) => r.errorCode !== 0);
    if (failed.length > 0) throw new KafkaJSDeleteGroupsError('Error in DeleteGroups', failed);
    return shaped;
  }

  /** kafkajs' deleteTopicRecords; an offset of '-1' means the high watermark. */
  async deleteTopicRecords(options: { topic: string; partitions: SeekEntry[] }): Promise<void> {
    const { topic, partitions } = options ?? ({} as typeof options);
    if (!topic || typeof topic !== 'string')
      throw new KafkaJSNonRetriableError(`Invalid topic "${String(topic)}"`);
    if (!partitions || partitions.length === 0) throw new KafkaJSNonRetriableError('Invalid partitions');
    const known = await this.partitionsOf(topic);
    const missing = partitions.filter((p) => !known.includes(p.partition));
    if (missing.length > 0)
      throw new KafkaJSDeleteTopicRecordsError({
        topic,
        partitions: missing.map(({ partition, offset }) => ({
          partition,
          offset,
          error: new KafkaJSBrokerNotFound('Could not find the leader for the partition', {
            retriable: false,
          }),
        })),
      });
    const req = partitions.map(({ partition, offset }) => ({ topic, partition, offset: Number(offset) }));
    const results = await this.send((t) => t.deleteRecords(req, DEFAULT_TIMEOUT));
    const failed = results.filter((r) => r.errorCode !== 0);
    if (failed.length > 0)
      throw new KafkaJSDeleteTopicRecordsError({
        topic,
        partitions: failed.map((r) => ({
          partition: r.partition,
          offset: String(partitions.find((p) => p.partition === r.partition)?.offset ?? ''),
          error: partitionError(r),
        })),
      });
  }

  /** Beyond kafkajs: committed offset, high watermark and lag per partition of a group. */
  async fetchLag(options: {
    groupId: string;
    topics?: string[];
  }): Promise<{ topic: string; partitions: PartitionLag[]; totalLag: string }[]> {
    const committed = await this.fetchOffsets({ groupId: options?.groupId, topics: options?.topics ?? [] });
    const out: { topic: string; partitions: PartitionLag[]; totalLag: string }[] = [];
    for (const t of committed) {
      const watermarks = await this.fetchTopicOffsets(t.topic);
      let total = 0;
      const partitions = watermarks.map((w) => {
        const c = t.partitions.find((p) => p.partition === w.partition);
        const high = Number(w.high);
        const low = Number(w.low);
        const at = c === undefined || Number(c.offset) < 0 ? low : Math.max(Number(c.offset), low);
        total += high - at;
        return {
          partition: w.partition,
          committed: c === undefined || Number(c.offset) < 0 ? '-1' : c.offset,
          high: w.high,
          low: w.low,
          lag: String(high - at),
        };
      });
      out.push({ topic: t.topic, partitions, totalLag: String(total) });
    }
    return out;
  }
}
