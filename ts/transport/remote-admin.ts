/**
 * The admin client over the remote transport: kafkajs' admin API on the Kafka
 * protocol (CreateTopics, DeleteTopics, CreatePartitions, Metadata, ListOffsets,
 * OffsetFetch/OffsetCommit, DescribeGroups, ListGroups, DeleteGroups,
 * DeleteRecords, DescribeConfigs/AlterConfigs).
 */

import * as acls from '../admin/acls';
import type { ITopicConfig, PartitionLag, PartitionOffset } from '../admin/admin';
import { KafkaJSDeleteGroupsError } from '../admin/admin';
import type { Logger } from '../client/logger';
import { KafkaJSError, KafkaJSNonRetriableError } from '../errors';
import { KafkaErrorCode } from '../kafka-codes';
import type { AclEntry, AclFilter, DeleteAclResponse, DescribeAclResponse } from '../types/kafkajs';
import { call, kafkaError } from './kafka-errors';
import type { NativeRemoteClient, RemoteMetadata } from './native-remote';
import type { RemoteTransport } from './remote';

const LATEST = -1;
const EARLIEST = -2;

/** A group with members answers an offset commit from outside with one of these. */
const REBALANCE_CODES = [
  KafkaErrorCode.UNKNOWN_MEMBER_ID,
  KafkaErrorCode.ILLEGAL_GENERATION,
  KafkaErrorCode.REBALANCE_IN_PROGRESS,
];

/** kafkajs' ConfigResourceTypes. */
export const ConfigResourceTypes = { UNKNOWN: 0, TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8 } as const;

function throwIfError(
  results: { name: string; errorCode: number; errorMessage?: string | null }[],
  ok: number[] = [],
): void {
  for (const r of results) {
    if (r.errorCode !== 0 && !ok.includes(r.errorCode))
      throw kafkaError(r.errorCode, r.errorMessage ? `${r.name}: ${r.errorMessage}` : r.name);
  }
}

/** Reads a consumer-protocol assignment (version, [topic, [partition]], userData). */
function decodeAssignment(b: Buffer): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  try {
    let at = 2;
    const topics = b.readInt32BE(at);
    at += 4;
    for (let i = 0; i < topics; i++) {
      const n = b.readInt16BE(at);
      at += 2;
      const topic = b.toString('utf8', at, at + n);
      at += n;
      const count = b.readInt32BE(at);
      at += 4;
      const parts: number[] = [];
      for (let j = 0; j < count; j++) {
        parts.push(b.readInt32BE(at));
        at += 4;
      }
      out[topic] = parts;
    }
  } catch {
    return out;
  }
  return out;
}

export class RemoteAdmin {
  private readonly transport: RemoteTransport;
  private readonly adminLogger: Logger;
  private client: NativeRemoteClient | null = null;

  constructor(kafka: { logger(): Logger }, transport: RemoteTransport) {
    this.transport = transport;
    this.adminLogger = kafka.logger().namespace('Admin');
  }

  logger(): Logger {
    return this.adminLogger;
  }

  async connect(): Promise<void> {
    if (this.client !== null) return;
    this.client = await this.transport.acquire();
  }

  async disconnect(): Promise<void> {
    if (this.client === null) return;
    this.client = null;
    await this.transport.release();
  }

  private connectedClient(): NativeRemoteClient {
    if (this.client === null) throw new KafkaJSError('The admin client is not connected');
    return this.client;
  }

  private async meta(topics?: string[]): Promise<RemoteMetadata> {
    const c = this.connectedClient();
    return call(() => c.metadata(topics ?? null));
  }

  private async partitionsOf(topic: string): Promise<number[]> {
    const m = await this.meta([topic]);
    const t = m.topics.find((x) => x.name === topic);
    if (t === undefined || t.errorCode !== 0)
      throw kafkaError(t?.errorCode ?? 3, `This server does not host this topic-partition: ${topic}`);
    return t.partitions.map((p) => p.partition).sort((a, b) => a - b);
  }

  async listTopics(): Promise<string[]> {
    const m = await this.meta();
    return m.topics.filter((t) => !t.isInternal).map((t) => t.name);
  }

  async createTopics(options: {
    topics: ITopicConfig[];
    validateOnly?: boolean;
    waitForLeaders?: boolean;
    timeout?: number;
  }): Promise<boolean> {
    if (!options || !Array.isArray(options.topics))
      throw new KafkaJSNonRetriableError('Invalid topics array');
    const names = options.topics.map((t) => t?.topic);
    if (names.some((n) => typeof n !== 'string' || n.length === 0))
      throw new KafkaJSNonRetriableError('Invalid topics array');
    if (new Set(names).size !== names.length)
      throw new KafkaJSNonRetriableError('Invalid topics array, duplicate topics');
    const c = this.connectedClient();
    const topics = options.topics.map((t) => {
      const configs: Record<string, string> = {};
      for (const e of t.configEntries ?? []) configs[e.name] = e.value;
      return {
        name: t.topic,
        numPartitions: t.numPartitions ?? -1,
        replicationFactor: t.replicationFactor ?? -1,
        configs,
      };
    });
    const results = await call(() =>
      c.createTopics(topics, options.timeout ?? 5000, options.validateOnly === true),
    );
    throwIfError(results, [36]);
    if (options.waitForLeaders !== false && options.validateOnly !== true) {
      const wanted = results.filter((r) => r.errorCode === 0).map((r) => r.name);
      for (let i = 0; i < 100 && wanted.length > 0; i++) {
        const m = await this.meta(wanted);
        if (
          m.topics.every(
            (t) => t.errorCode === 0 && t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0),
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return results.every((r) => r.errorCode === 0);
  }

  async deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void> {
    if (!options || !Array.isArray(options.topics))
      throw new KafkaJSNonRetriableError('Invalid topics array');
    const c = this.connectedClient();
    throwIfError(await call(() => c.deleteTopics(options.topics, options.timeout ?? 5000)));
  }

  async createPartitions(options: {
    topicPartitions: { topic: string; count: number }[];
    validateOnly?: boolean;
    timeout?: number;
  }): Promise<boolean> {
    if (!options || !Array.isArray(options.topicPartitions))
      throw new KafkaJSNonRetriableError('Invalid topic partitions array');
    const c = this.connectedClient();
    const topics = options.topicPartitions.map((t) => ({ topic: t.topic, partition: 0, value: t.count }));
    throwIfError(
      await call(() => c.createPartitions(topics, options.timeout ?? 5000, options.validateOnly === true)),
    );
    // As in process, the new partitions are there when this resolves: wait
    // (bounded) for the brokers' metadata to show them with leaders.
    if (options.validateOnly !== true) {
      const names = options.topicPartitions.map((t) => t.topic);
      for (let i = 0; i < 100; i++) {
        const m = await this.meta(names);
        const ready = options.topicPartitions.every((want) => {
          const t = m.topics.find((x) => x.name === want.topic);
          return (
            t !== undefined && t.partitions.length >= want.count && t.partitions.every((p) => p.leader >= 0)
          );
        });
        if (ready) break;
        await new Promise((r) => setTimeout(r, 50));
      }
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
    const m = await this.meta(options.topics);
    for (const t of m.topics) if (t.errorCode !== 0) throw kafkaError(t.errorCode, t.name);
    const order = options.topics ?? m.topics.filter((t) => !t.isInternal).map((t) => t.name);
    return {
      topics: order.map((name) => {
        const t = m.topics.find((x) => x.name === name);
        if (t === undefined) throw kafkaError(3, name);
        return {
          name,
          partitions: t.partitions.map((p) => ({
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

  private async offsetsAt(topic: string, timestamps: number[]): Promise<Map<string, number>> {
    const parts = await this.partitionsOf(topic);
    const c = this.connectedClient();
    const req = timestamps.flatMap((value) => parts.map((partition) => ({ topic, partition, value })));
    const r = await call(() => c.listOffsets(req));
    const out = new Map<string, number>();
    r.forEach((x, i) => {
      if (x.errorCode !== 0) throw kafkaError(x.errorCode, null, { topic, partition: x.partition });
      out.set(`${req[i]?.value}:${x.partition}`, x.offset);
    });
    return out;
  }

  async fetchTopicOffsets(
    topic: string,
  ): Promise<{ partition: number; offset: string; high: string; low: string }[]> {
    const parts = await this.partitionsOf(topic);
    const o = await this.offsetsAt(topic, [LATEST, EARLIEST]);
    return parts.map((partition) => {
      const high = String(o.get(`${LATEST}:${partition}`));
      return { partition, offset: high, high, low: String(o.get(`${EARLIEST}:${partition}`)) };
    });
  }

  async fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<PartitionOffset[]> {
    const parts = await this.partitionsOf(topic);
    const ts = timestamp ?? LATEST;
    const o = await this.offsetsAt(topic, [ts, LATEST]);
    return parts.map((partition) => {
      const at = o.get(`${ts}:${partition}`) ?? -1;
      return { partition, offset: String(at >= 0 ? at : o.get(`${LATEST}:${partition}`)) };
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
    const c = this.connectedClient();
    let req: { topic: string; partitions: number[] }[] | null = null;
    if (options.topics !== undefined) {
      req = [];
      for (const topic of options.topics) req.push({ topic, partitions: await this.partitionsOf(topic) });
    }
    const committed = await call(() => c.offsetFetch(options.groupId, req));
    const topics = options.topics ?? [...new Set(committed.map((o) => o.topic))];
    const out = [];
    for (const topic of topics) {
      const latest = options.resolveOffsets ? await this.offsetsAt(topic, [LATEST]) : null;
      const parts = committed.filter((o) => o.topic === topic).sort((a, b) => a.partition - b.partition);
      out.push({
        topic,
        partitions: parts.map((p) => {
          if (p.errorCode !== 0) throw kafkaError(p.errorCode, null, { topic, partition: p.partition });
          let offset = String(p.offset);
          if (latest !== null && p.offset < 0) offset = String(latest.get(`${LATEST}:${p.partition}`));
          return { partition: p.partition, offset, metadata: p.metadata ?? null };
        }),
      });
    }
    return out;
  }

  async setOffsets(options: {
    groupId: string;
    topic: string;
    partitions: { partition: number; offset: string }[];
  }): Promise<void> {
    if (!options || typeof options.groupId !== 'string')
      throw new KafkaJSNonRetriableError('Invalid groupId');
    await this.commit(
      options.groupId,
      options.partitions.map((p) => ({
        topic: options.topic,
        partition: p.partition,
        offset: Number(p.offset),
      })),
    );
  }

  private async commit(
    groupId: string,
    offsets: { topic: string; partition: number; offset: number }[],
  ): Promise<void> {
    const c = this.connectedClient();
    const r = await call(() => c.offsetCommit(groupId, -1, '', null, offsets));
    for (const x of r) {
      if (REBALANCE_CODES.includes(x.errorCode))
        throw new KafkaJSNonRetriableError('The consumer group must have no running instances');
      if (x.errorCode !== 0) throw kafkaError(x.errorCode, null, { topic: x.topic, partition: x.partition });
    }
  }

  async resetOffsets(options: { groupId: string; topic: string; earliest?: boolean }): Promise<void> {
    if (!options || typeof options.groupId !== 'string')
      throw new KafkaJSNonRetriableError('Invalid groupId');
    const parts = await this.partitionsOf(options.topic);
    const at = options.earliest ? EARLIEST : LATEST;
    const o = await this.offsetsAt(options.topic, [at]);
    await this.commit(
      options.groupId,
      parts.map((partition) => ({
        topic: options.topic,
        partition,
        offset: o.get(`${at}:${partition}`) ?? 0,
      })),
    );
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
    const c = this.connectedClient();
    const groups = await call(() => c.describeGroups(groupIds));
    return {
      groups: groups.map((g) => ({
        groupId: g.groupId,
        errorCode: g.errorCode,
        state: g.state,
        protocol: g.protocol,
        protocolType: g.protocolType,
        members: g.members.map((m) => ({
          memberId: m.memberId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberAssignment: decodeAssignment(m.memberAssignment),
        })),
      })),
    };
  }

  async listGroups(): Promise<{ groups: { groupId: string; protocolType: string }[] }> {
    const c = this.connectedClient();
    const gs = await call(() => c.listGroups());
    return { groups: gs.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType })) };
  }

  async deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]> {
    if (!Array.isArray(groupIds))
      throw new KafkaJSNonRetriableError('deleteGroups needs an array of group ids');
    const c = this.connectedClient();
    const r = await call(() => c.deleteGroups(groupIds));
    const results = r.map((x) => ({
      groupId: x.name,
      errorCode: x.errorCode,
      ...(x.errorCode !== 0 ? { error: kafkaError(x.errorCode, x.name) } : {}),
    }));
    const failed = results.filter((x) => x.errorCode !== 0);
    if (failed.length > 0)
      throw new KafkaJSDeleteGroupsError(
        `Error in DeleteGroups: ${failed.map((f) => `${f.groupId}: ${f.error?.message}`).join('; ')}`,
        failed,
      );
    return results;
  }

  async deleteTopicRecords(options: { topic: string; partitions: PartitionOffset[] }): Promise<void> {
    if (!options || !Array.isArray(options.partitions))
      throw new KafkaJSNonRetriableError('Invalid partitions');
    const c = this.connectedClient();
    const req = options.partitions.map((p) => ({
      topic: options.topic,
      partition: p.partition,
      value: Number(p.offset),
    }));
    const r = await call(() => c.deleteRecords(req, 5000));
    for (const x of r)
      if (x.errorCode !== 0) throw kafkaError(x.errorCode, null, { topic: x.topic, partition: x.partition });
  }

  /** ACLs through DescribeAcls/CreateAcls/DeleteAcls (ts/admin/acls.ts). */
  async describeAcls(options: AclFilter): Promise<DescribeAclResponse> {
    return acls.describeAcls(acls.remoteAcls(this.connectedClient()), options);
  }

  async createAcls(options: { acl: AclEntry[] }): Promise<boolean> {
    return acls.createAcls(acls.remoteAcls(this.connectedClient()), options);
  }

  async deleteAcls(options: { filters: AclFilter[] }): Promise<DeleteAclResponse> {
    return acls.deleteAcls(acls.remoteAcls(this.connectedClient()), options);
  }

  async describeConfigs(options: {
    resources: { type: number; name: string; configNames?: string[] }[];
    includeSynonyms?: boolean;
  }): Promise<{
    resources: {
      resourceType: number;
      resourceName: string;
      errorCode: number;
      errorMessage: string | null;
      configEntries: {
        configName: string;
        configValue: string | null;
        readOnly: boolean;
        isDefault: boolean;
        configSource: number;
        isSensitive: boolean;
      }[];
    }[];
    throttleTime: number;
  }> {
    const c = this.connectedClient();
    const r = await call(() =>
      c.describeConfigs(
        options.resources.map((x) => ({
          resourceType: x.type,
          name: x.name,
          ...(x.configNames === undefined ? {} : { keys: x.configNames }),
        })),
        options.includeSynonyms === true,
      ),
    );
    return {
      resources: r.map((x) => ({
        resourceType: x.resourceType,
        resourceName: x.name,
        errorCode: x.errorCode,
        errorMessage: x.errorMessage ?? null,
        configEntries: x.entries.map((e) => ({
          configName: e.name,
          configValue: e.value ?? null,
          readOnly: e.readOnly,
          isDefault: e.isDefault,
          configSource: e.configSource,
          isSensitive: e.isSensitive,
        })),
      })),
      throttleTime: 0,
    };
  }

  async alterConfigs(options: {
    validateOnly?: boolean;
    resources: { type: number; name: string; configEntries: { name: string; value: string }[] }[];
  }): Promise<{
    resources: { errorCode: number; errorMessage: string | null; resourceName: string }[];
    throttleTime: number;
  }> {
    const c = this.connectedClient();
    const r = await call(() =>
      c.alterConfigs(
        options.resources.map((x) => ({ resourceType: x.type, name: x.name, entries: x.configEntries })),
        options.validateOnly === true,
      ),
    );
    throwIfError(r);
    return {
      resources: r.map((x) => ({ errorCode: 0, errorMessage: null, resourceName: x.name })),
      throttleTime: 0,
    };
  }

  /** Beyond kafkajs: committed offset, high watermark and lag per partition of a group. */
  async fetchLag(options: {
    groupId: string;
    topics?: string[];
  }): Promise<{ topic: string; partitions: PartitionLag[]; totalLag: string }[]> {
    const committed = await this.fetchOffsets(options);
    const out = [];
    for (const t of committed) {
      const offsets = await this.fetchTopicOffsets(t.topic);
      let total = 0;
      const partitions = offsets.map((o) => {
        const c = t.partitions.find((p) => p.partition === o.partition);
        const high = Number(o.high);
        const low = Number(o.low);
        const at = c === undefined || Number(c.offset) < 0 ? low : Math.max(Number(c.offset), low);
        total += high - at;
        return {
          partition: o.partition,
          committed: c?.offset ?? '-1',
          high: o.high,
          low: o.low,
          lag: String(high - at),
        };
      });
      out.push({ topic: t.topic, partitions, totalLag: String(total) });
    }
    return out;
  }
}
