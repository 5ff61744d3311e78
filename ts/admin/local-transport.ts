/**
 * The admin transport in process: the engine and group coordinator of a data
 * directory (`new Kafka({ dataDir })`). Answers as a one-node Kafka cluster
 * would: node 0 leads every partition, errors are Kafka's codes per item.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { LOCAL_NODE } from '../client/cluster';
import type { RetryOptions } from '../client/retry';
import { FerrologError, KafkaJSError } from '../errors';
import { GroupCoordinator, OFFSETS_TOPIC } from '../group/coordinator';
import { kafkajsGroup } from '../group/member';
import { kafkaCode } from '../kafka-codes';
import { type Log, nativeHandle } from '../log';
import { ConfigResourceTypes } from '../types/kafkajs';
import * as acls from './acls';
import type { AdminContext } from './admin';
import { describeBrokerConfig, describeTopicConfig, replacementConfig } from './configs';
import type {
  AdminMetadata,
  AdminTopic,
  AdminTransport,
  CommittedAnswer,
  ConfigAlteration,
  ConfigAnswer,
  ConfigQuery,
  GroupAnswer,
  NamedResult,
  NewTopicRequest,
  OffsetAnswer,
  OffsetQuery,
  OngoingReassignment,
  PartitionResult,
  ReassignmentRequest,
} from './transport';

const LATEST = -1;
const EARLIEST = -2;

/**
 * The Kafka code for an engine error on one item; `invalid` is what a bad
 * argument means for this call. Anything else (I/O, a closed log) is not a
 * per-item answer and propagates.
 */
function itemCode(e: unknown, invalid: number): { errorCode: number; errorMessage: string } {
  if (!(e instanceof FerrologError)) throw e;
  const byCode: Record<string, number> = {
    ERR_TOPIC_EXISTS: kafkaCode('TOPIC_ALREADY_EXISTS'),
    ERR_UNKNOWN_TOPIC_OR_PARTITION: kafkaCode('UNKNOWN_TOPIC_OR_PARTITION'),
    ERR_INVALID_CONFIG: kafkaCode('INVALID_CONFIG'),
    ERR_OFFSET_OUT_OF_RANGE: kafkaCode('OFFSET_OUT_OF_RANGE'),
    ERR_INVALID_ARGUMENT: invalid,
  };
  const errorCode = byCode[e.code];
  if (errorCode === undefined) throw e;
  return { errorCode, errorMessage: e.message };
}

const UNKNOWN = kafkaCode('UNKNOWN_TOPIC_OR_PARTITION');

export class LocalAdminTransport implements AdminTransport {
  readonly kind = 'local' as const;
  private readonly context: AdminContext;
  private log: Log | null = null;
  private coordinator: GroupCoordinator | null = null;

  constructor(context: AdminContext) {
    this.context = context;
  }

  async connect(retry: RetryOptions | undefined): Promise<void> {
    if (this.log !== null) return;
    const log = await this.context.openLogWithRetry(retry);
    let coordinator: GroupCoordinator | null = null;
    try {
      coordinator = GroupCoordinator.acquire(() => this.context.openLog());
      await coordinator.ready();
    } catch (e) {
      await coordinator?.release().catch(() => undefined);
      await log.close();
      throw e;
    }
    this.log = log;
    this.coordinator = coordinator;
  }

  async disconnect(): Promise<void> {
    const log = this.log;
    const coordinator = this.coordinator;
    this.log = null;
    this.coordinator = null;
    await log?.close();
    await coordinator?.release();
  }

  private connectedLog(): Log {
    if (this.log === null) throw new KafkaJSError('The admin client is not connected');
    return this.log;
  }

  private groups(): GroupCoordinator {
    if (this.coordinator === null) throw new KafkaJSError('The admin client is not connected');
    return this.coordinator;
  }

  /** -1 for a topic that does not exist. */
  private count(topic: string): number {
    return this.connectedLog().partitionCount(topic);
  }

  private hasPartition(topic: string, partition: number): boolean {
    return Number.isInteger(partition) && partition >= 0 && partition < this.count(topic);
  }

  async metadata(topics: string[] | null): Promise<AdminMetadata> {
    const log = this.connectedLog();
    const names = topics ?? log.topics().map((t) => t.name);
    const node = LOCAL_NODE.nodeId;
    const out: AdminTopic[] = names.map((name) => {
      const n = this.count(name);
      return {
        name,
        errorCode: n < 0 ? UNKNOWN : 0,
        isInternal: name === OFFSETS_TOPIC,
        partitions: Array.from({ length: Math.max(0, n) }, (_, partition) => ({
          partition,
          errorCode: 0,
          leader: node,
          replicas: [node],
          isr: [node],
          offlineReplicas: [],
        })),
      };
    });
    // The cluster id of a directory: stable for it, as a Kafka cluster's is.
    const clusterId = createHash('sha256')
      .update(path.resolve(this.context.dataDir))
      .digest('base64url')
      .slice(0, 22);
    return { clusterId, controllerId: node, brokers: [{ ...LOCAL_NODE }], topics: out };
  }

  async createTopics(
    topics: NewTopicRequest[],
    _timeoutMs: number,
    validateOnly: boolean,
  ): Promise<NamedResult[]> {
    const log = this.connectedLog();
    return topics.map((t) => {
      const partitions = t.numPartitions === -1 ? this.context.defaultNumPartitions : t.numPartitions;
      if (!Number.isInteger(partitions) || partitions < 1)
        return {
          name: t.name,
          errorCode: kafkaCode('INVALID_PARTITIONS'),
          errorMessage: `Number of partitions must be larger than 0, not ${partitions}`,
        };
      // One node holds every replica: a factor above one cannot be met, as on a one-broker Kafka.
      if (t.replicationFactor !== -1 && t.replicationFactor !== 1)
        return {
          name: t.name,
          errorCode: kafkaCode('INVALID_REPLICATION_FACTOR'),
          errorMessage: `Replication factor: ${t.replicationFactor} larger than available brokers: 1.`,
        };
      if (validateOnly) {
        if (this.count(t.name) >= 0)
          return {
            name: t.name,
            errorCode: kafkaCode('TOPIC_ALREADY_EXISTS'),
            errorMessage: `Topic '${t.name}' already exists.`,
          };
        return { name: t.name, errorCode: 0 };
      }
      try {
        log.createTopic(t.name, { partitions, config: t.configs });
        return { name: t.name, errorCode: 0 };
      } catch (e) {
        return { name: t.name, ...itemCode(e, kafkaCode('INVALID_TOPIC_EXCEPTION')) };
      }
    });
  }

  async deleteTopics(topics: string[], _timeoutMs: number): Promise<NamedResult[]> {
    return topics.map((name) => {
      if (this.count(name) < 0) return { name, errorCode: UNKNOWN };
      try {
        this.connectedLog().deleteTopic(name);
        return { name, errorCode: 0 };
      } catch (e) {
        return { name, ...itemCode(e, kafkaCode('INVALID_TOPIC_EXCEPTION')) };
      }
    });
  }

  async createPartitions(
    topics: { topic: string; count: number }[],
    _timeoutMs: number,
    validateOnly: boolean,
  ): Promise<NamedResult[]> {
    return topics.map(({ topic, count }) => {
      const n = this.count(topic);
      if (n < 0) return { name: topic, errorCode: UNKNOWN };
      if (!Number.isInteger(count) || count <= n)
        return {
          name: topic,
          errorCode: kafkaCode('INVALID_PARTITIONS'),
          errorMessage: `Topic currently has ${n} partitions, which is higher than the requested ${count}.`,
        };
      if (validateOnly) return { name: topic, errorCode: 0 };
      try {
        this.connectedLog().createPartitions(topic, count);
        return { name: topic, errorCode: 0 };
      } catch (e) {
        return { name: topic, ...itemCode(e, kafkaCode('INVALID_PARTITIONS')) };
      }
    });
  }

  async listOffsets(queries: OffsetQuery[]): Promise<OffsetAnswer[]> {
    const log = this.connectedLog();
    return queries.map(({ topic, partition, timestamp }) => {
      if (!this.hasPartition(topic, partition)) return { topic, partition, errorCode: UNKNOWN, offset: -1 };
      const w = log.watermarks(topic, partition);
      let offset: number;
      if (timestamp === LATEST) offset = w.highWatermark;
      else if (timestamp === EARLIEST) offset = w.logStartOffset;
      else offset = log.offsetForTimestamp(topic, partition, timestamp) ?? -1;
      return { topic, partition, errorCode: 0, offset };
    });
  }

  async deleteRecords(
    partitions: { topic: string; partition: number; offset: number }[],
    _timeoutMs: number,
  ): Promise<OffsetAnswer[]> {
    const log = this.connectedLog();
    return partitions.map(({ topic, partition, offset }) => {
      if (!this.hasPartition(topic, partition)) return { topic, partition, errorCode: UNKNOWN, offset: -1 };
      // Kafka's DeleteRecords: -1 is the high watermark.
      const at = offset === -1 ? log.watermarks(topic, partition).highWatermark : offset;
      try {
        const low = log.deleteRecords(topic, partition, at);
        return { topic, partition, errorCode: 0, offset: low };
      } catch (e) {
        return { topic, partition, offset: -1, ...itemCode(e, kafkaCode('OFFSET_OUT_OF_RANGE')) };
      }
    });
  }

  async describeConfigs(resources: ConfigQuery[], includeSynonyms: boolean): Promise<ConfigAnswer[]> {
    const dirDefaults = this.context.directoryTopicDefaults();
    const log = this.connectedLog();
    return resources.map((r) => {
      const answer = {
        resourceType: r.type,
        resourceName: r.name,
        errorCode: 0,
        errorMessage: null as string | null,
        configEntries: [] as ConfigAnswer['configEntries'],
      };
      const names = r.configNames ?? undefined;
      if (r.type === ConfigResourceTypes.TOPIC) {
        const t = log.topics().find((d) => d.name === r.name);
        if (t === undefined)
          return { ...answer, errorCode: UNKNOWN, errorMessage: `Topic ${r.name} not found` };
        answer.configEntries = describeTopicConfig(t.config, dirDefaults, names, includeSynonyms);
      } else if (r.type === ConfigResourceTypes.BROKER) {
        if (r.name !== String(LOCAL_NODE.nodeId))
          return {
            ...answer,
            errorCode: kafkaCode('INVALID_REQUEST'),
            errorMessage: `Broker ${r.name} does not exist`,
          };
        answer.configEntries = describeBrokerConfig(dirDefaults, names, includeSynonyms);
      }
      // BROKER_LOGGER: no loggers to configure in process.
      return answer;
    });
  }

  async alterConfigs(resources: ConfigAlteration[], validateOnly: boolean): Promise<NamedResult[]> {
    const dirDefaults = this.context.directoryTopicDefaults();
    const log = this.connectedLog();
    return resources.map((r) => {
      if (r.type !== ConfigResourceTypes.TOPIC)
        return {
          name: r.name,
          errorCode: kafkaCode('INVALID_REQUEST'),
          errorMessage: `Only topic configs can be altered in process, not resource type ${r.type}`,
        };
      const t = log.topics().find((d) => d.name === r.name);
      if (t === undefined) return { name: r.name, errorCode: UNKNOWN };
      try {
        const next = replacementConfig(t.config, dirDefaults, r.configEntries);
        if (!validateOnly) log.alterTopicConfig(r.name, next);
        return { name: r.name, errorCode: 0 };
      } catch (e) {
        return { name: r.name, ...itemCode(e, kafkaCode('INVALID_CONFIG')) };
      }
    });
  }

  async offsetFetch(
    groupId: string,
    topics: { topic: string; partitions: number[] }[] | null,
  ): Promise<CommittedAnswer[]> {
    const all = await this.groups().calls.fetchOffsets(groupId, topics);
    return all.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      errorCode: 0,
      offset: o.offset,
      metadata: o.metadata === '' ? null : o.metadata,
    }));
  }

  async offsetCommit(
    groupId: string,
    offsets: { topic: string; partition: number; offset: number }[],
  ): Promise<PartitionResult[]> {
    const r = await this.groups().calls.commit({ groupId, generationId: -1, memberId: '', offsets });
    return offsets.map(({ topic, partition }) => {
      const p = r.partitions.find((x) => x.topic === topic && x.partition === partition);
      return { topic, partition, errorCode: r.errorCode !== 0 ? r.errorCode : (p?.errorCode ?? 0) };
    });
  }

  async describeGroups(groupIds: string[]): Promise<GroupAnswer[]> {
    const described = await this.groups().calls.describe(groupIds);
    return described.map(kafkajsGroup);
  }

  async listGroups(): Promise<{ groupId: string; protocolType: string }[]> {
    const listed = await this.groups().calls.list(null);
    return listed.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType || 'consumer' }));
  }

  async deleteGroups(groupIds: string[]): Promise<NamedResult[]> {
    const r = await this.groups().calls.delete(groupIds);
    return r.map((x) => ({ name: x.groupId, errorCode: x.errorCode }));
  }

  /** One node holds every partition: an assignment to node 0 alone is already in place, any other is invalid. */
  async alterPartitionReassignments(
    partitions: ReassignmentRequest[],
    _timeoutMs: number,
  ): Promise<PartitionResult[]> {
    return partitions.map(({ topic, partition, replicas }) => {
      if (!this.hasPartition(topic, partition)) return { topic, partition, errorCode: UNKNOWN };
      if (replicas.length !== 1 || replicas[0] !== LOCAL_NODE.nodeId)
        return {
          topic,
          partition,
          errorCode: kafkaCode('INVALID_REPLICA_ASSIGNMENT'),
          errorMessage: `Replica assignment is invalid: ${topic}-${partition} can only live on node ${LOCAL_NODE.nodeId}`,
        };
      return { topic, partition, errorCode: 0 };
    });
  }

  /** Nothing is ever being moved in process. */
  async listPartitionReassignments(
    _topics: { topic: string; partitions: number[] }[] | null,
    _timeoutMs: number,
  ): Promise<OngoingReassignment[]> {
    this.connectedLog();
    return [];
  }

  acls(): acls.AclCalls {
    return acls.localAcls(this.connectedLog()[nativeHandle]());
  }
}
