/**
 * The admin transport over the Kafka protocol (`new Kafka({ brokers })`):
 * each call is one native call on the shared Rust client (crates/client via
 * crates/node/src/client.rs), which routes it (controller, group
 * coordinator, partition leaders) and retries NOT_CONTROLLER and lost
 * connections. Answers carry Kafka's codes per item; `Admin` shapes them.
 */
import * as acls from '../admin/acls';
import type {
  AdminMetadata,
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
} from '../admin/transport';
import type { RetryOptions } from '../client/retry';
import { KafkaJSError } from '../errors';
import { call } from './kafka-errors';
import type { NativeRemoteClient } from './native-remote';
import type { RemoteTransport } from './remote';

/** The reassignment calls (crates/node/src/client_admin.rs), typed here to keep native-remote.ts as it is. */
interface ReassignmentClient {
  alterPartitionReassignments(
    partitions: { topic: string; partition: number; replicas?: number[] | null }[],
    timeoutMs: number,
  ): Promise<{ topic: string; partition: number; errorCode: number; errorMessage?: string | null }[]>;
  listPartitionReassignments(
    topics: { topic: string; partitions: number[] }[] | null,
    timeoutMs: number,
  ): Promise<
    {
      topic: string;
      partition: number;
      replicas: number[];
      addingReplicas: number[];
      removingReplicas: number[];
    }[]
  >;
}

export class RemoteAdminTransport implements AdminTransport {
  readonly kind = 'remote' as const;
  private readonly remote: RemoteTransport;
  private client: NativeRemoteClient | null = null;

  constructor(remote: RemoteTransport) {
    this.remote = remote;
  }

  /** The native client retries connecting per the `Kafka`'s own retry settings. */
  async connect(_retry: RetryOptions | undefined): Promise<void> {
    if (this.client !== null) return;
    this.client = await this.remote.acquire();
  }

  async disconnect(): Promise<void> {
    if (this.client === null) return;
    this.client = null;
    await this.remote.release();
  }

  private c(): NativeRemoteClient {
    if (this.client === null) throw new KafkaJSError('The admin client is not connected');
    return this.client;
  }

  async metadata(topics: string[] | null): Promise<AdminMetadata> {
    const c = this.c();
    const m = await call(() => c.metadata(topics));
    return {
      clusterId: m.clusterId ?? null,
      controllerId: m.controllerId,
      brokers: m.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })),
      topics: m.topics.map((t) => ({
        name: t.name,
        errorCode: t.errorCode,
        isInternal: t.isInternal,
        partitions: t.partitions.map((p) => ({
          partition: p.partition,
          errorCode: p.errorCode,
          leader: p.leader,
          replicas: p.replicas,
          isr: p.isr,
          offlineReplicas: p.offlineReplicas,
        })),
      })),
    };
  }

  createTopics(topics: NewTopicRequest[], timeoutMs: number, validateOnly: boolean): Promise<NamedResult[]> {
    const c = this.c();
    return call(() => c.createTopics(topics, timeoutMs, validateOnly));
  }

  deleteTopics(topics: string[], timeoutMs: number): Promise<NamedResult[]> {
    const c = this.c();
    return call(() => c.deleteTopics(topics, timeoutMs));
  }

  createPartitions(
    topics: { topic: string; count: number }[],
    timeoutMs: number,
    validateOnly: boolean,
  ): Promise<NamedResult[]> {
    const c = this.c();
    const req = topics.map((t) => ({ topic: t.topic, partition: 0, value: t.count }));
    return call(() => c.createPartitions(req, timeoutMs, validateOnly));
  }

  async listOffsets(queries: OffsetQuery[]): Promise<OffsetAnswer[]> {
    const c = this.c();
    const r = await call(() =>
      c.listOffsets(queries.map((q) => ({ topic: q.topic, partition: q.partition, value: q.timestamp }))),
    );
    // One query per partition in a call (the admin's), so the answers are matched by partition.
    const byPartition = new Map(r.map((x) => [`${x.topic}\u0000${x.partition}`, x]));
    return queries.map((q) => {
      const x = byPartition.get(`${q.topic}\u0000${q.partition}`);
      if (x === undefined) return { topic: q.topic, partition: q.partition, errorCode: -1, offset: -1 };
      return { topic: q.topic, partition: q.partition, errorCode: x.errorCode, offset: x.offset };
    });
  }

  async deleteRecords(
    partitions: { topic: string; partition: number; offset: number }[],
    timeoutMs: number,
  ): Promise<OffsetAnswer[]> {
    const c = this.c();
    const r = await call(() =>
      c.deleteRecords(
        partitions.map((p) => ({ topic: p.topic, partition: p.partition, value: p.offset })),
        timeoutMs,
      ),
    );
    return r.map((x) => ({
      topic: x.topic,
      partition: x.partition,
      errorCode: x.errorCode,
      offset: x.offset,
    }));
  }

  async describeConfigs(resources: ConfigQuery[], includeSynonyms: boolean): Promise<ConfigAnswer[]> {
    const c = this.c();
    const r = await call(() =>
      c.describeConfigs(
        resources.map((x) => ({
          resourceType: x.type,
          name: x.name,
          ...(x.configNames == null || x.configNames.length === 0 ? {} : { keys: x.configNames }),
        })),
        includeSynonyms,
      ),
    );
    return r.map((x) => ({
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
        // The native client does not carry synonyms across yet.
        configSynonyms: [],
      })),
    }));
  }

  alterConfigs(resources: ConfigAlteration[], validateOnly: boolean): Promise<NamedResult[]> {
    const c = this.c();
    return call(() =>
      c.alterConfigs(
        resources.map((x) => ({ resourceType: x.type, name: x.name, entries: x.configEntries })),
        validateOnly,
      ),
    );
  }

  async offsetFetch(
    groupId: string,
    topics: { topic: string; partitions: number[] }[] | null,
  ): Promise<CommittedAnswer[]> {
    const c = this.c();
    const r = await call(() => c.offsetFetch(groupId, topics));
    return r.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      errorCode: o.errorCode,
      offset: o.offset,
      metadata: o.metadata || null,
    }));
  }

  offsetCommit(
    groupId: string,
    offsets: { topic: string; partition: number; offset: number }[],
  ): Promise<PartitionResult[]> {
    const c = this.c();
    return call(() => c.offsetCommit(groupId, -1, '', null, offsets));
  }

  async describeGroups(groupIds: string[]): Promise<GroupAnswer[]> {
    const c = this.c();
    const groups = await call(() => c.describeGroups(groupIds));
    return groups.map((g) => ({
      groupId: g.groupId,
      errorCode: g.errorCode,
      state: g.state,
      protocolType: g.protocolType,
      protocol: g.protocol,
      members: g.members.map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: m.memberMetadata,
        memberAssignment: m.memberAssignment,
      })),
    }));
  }

  async listGroups(): Promise<{ groupId: string; protocolType: string }[]> {
    const c = this.c();
    const gs = await call(() => c.listGroups());
    return gs.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType }));
  }

  deleteGroups(groupIds: string[]): Promise<NamedResult[]> {
    const c = this.c();
    return call(() => c.deleteGroups(groupIds));
  }

  alterPartitionReassignments(
    partitions: ReassignmentRequest[],
    timeoutMs: number,
  ): Promise<PartitionResult[]> {
    const c = this.reassignments();
    return call(() => c.alterPartitionReassignments(partitions, timeoutMs));
  }

  listPartitionReassignments(
    topics: { topic: string; partitions: number[] }[] | null,
    timeoutMs: number,
  ): Promise<OngoingReassignment[]> {
    const c = this.reassignments();
    return call(() => c.listPartitionReassignments(topics, timeoutMs));
  }

  private reassignments(): ReassignmentClient {
    const c = this.c() as unknown as Partial<ReassignmentClient>;
    if (typeof c.alterPartitionReassignments !== 'function')
      throw new KafkaJSError(
        'ferrolog: this build of the native addon has no reassignment calls; rebuild it',
        {
          retriable: false,
        },
      );
    return c as ReassignmentClient;
  }

  acls(): acls.AclCalls {
    return acls.remoteAcls(this.c());
  }
}
