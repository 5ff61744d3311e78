/**
 * The consumer over the remote transport: kafkajs' consumer API on the classic
 * group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
 * OffsetFetch) with the same assigners as the in-process consumer, and the
 * fetch path: one native fetch per round for every assigned partition, whose
 * raw record batches the same decoder reads.
 */
import { EventEmitter } from 'node:events';
import type { Kafka } from '../client/kafka';
import type { Logger } from '../client/logger';
import { decodeMessages, type Message } from '../codec/decoder';
import type {
  Batch,
  ConsumerConfig,
  ConsumerEvents,
  ConsumerRunConfig,
  ConsumerSubscribeTopics,
  KafkaMessage,
  OffsetsByTopicPartition,
  TopicPartitionOffsetAndMetadata,
} from '../consumer/consumer';
import { KafkaJSError, KafkaJSNonRetriableError } from '../errors';
import {
  type Assigner,
  type AssignerCluster,
  AssignerProtocol,
  PartitionAssigners,
} from '../group/assigners';
import { call, kafkaError } from './kafka-errors';
import type { NativeRemoteClient } from './native-remote';
import type { RemoteTransport } from './remote';

const EVENTS = {
  HEARTBEAT: 'consumer.heartbeat',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
  GROUP_JOIN: 'consumer.group_join',
  FETCH: 'consumer.fetch',
  FETCH_START: 'consumer.fetch_start',
  START_BATCH_PROCESS: 'consumer.start_batch_process',
  END_BATCH_PROCESS: 'consumer.end_batch_process',
  CONNECT: 'consumer.connect',
  DISCONNECT: 'consumer.disconnect',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
  REBALANCING: 'consumer.rebalancing',
  RECEIVED_UNSUBSCRIBED_TOPICS: 'consumer.received_unsubscribed_topics',
  REQUEST: 'consumer.network.request',
  REQUEST_TIMEOUT: 'consumer.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'consumer.network.request_queue_size',
} as const;

/** Codes after which the member must join again. */
const REJOIN = new Set([22, 25, 27, 79]);

const key = (t: string, p: number): string => `${t}\u0000${p}`;

/**
 * The whole batches at the front of fetched bytes: Kafka may end a fetch
 * response with a partial batch (the partition's byte limit cut it), which
 * the next fetch returns whole.
 */
function wholeBatches(buf: Buffer): Buffer {
  let pos = 0;
  while (buf.byteLength - pos >= 12) {
    const size = 12 + buf.readInt32BE(pos + 8);
    if (size < 12 || pos + size > buf.byteLength) break;
    pos += size;
  }
  return pos === buf.byteLength ? buf : buf.subarray(0, pos);
}

export class RemoteConsumer<K = Buffer | null, V = Buffer | null> {
  readonly events: ConsumerEvents = EVENTS;
  private readonly transport: RemoteTransport;
  private readonly config: ConsumerConfig<K, V>;
  private readonly log_: Logger;
  private readonly emitter = new EventEmitter();
  private readonly assigners: Assigner[];
  private client: NativeRemoteClient | null = null;
  private topics: (string | RegExp)[] = [];
  private fromBeginning = false;
  private running = false;
  private loop: Promise<void> | null = null;
  private memberId = '';
  private generationId = -1;
  private rejoin = true;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private assignment: { topic: string; partition: number }[] = [];
  /** Next offset to fetch per partition. */
  private readonly positions = new Map<string, number>();
  /** Offsets consumed and not yet committed. */
  private readonly uncommitted = new Map<string, number>();
  private readonly pausedSet = new Set<string>();
  private requestId = 0;
  private rounds = 0;

  constructor(kafka: Kafka, transport: RemoteTransport, config: ConsumerConfig<K, V>) {
    if (
      config === null ||
      typeof config !== 'object' ||
      typeof config.groupId !== 'string' ||
      config.groupId === ''
    )
      throw new KafkaJSNonRetriableError('Consumer groupId must be a non-empty string');
    this.transport = transport;
    this.config = config;
    this.log_ = kafka.logger().namespace('Consumer');
    const cluster = {
      findTopicPartitionMetadata: (topic: string) =>
        (this.partitionCache.get(topic) ?? []).map((partitionId) => ({ partitionId, leader: 0 })),
    };
    // kafkajs assigners get the cluster, the group id and the root logger; the
    // ones ferrolog ships (and most written for kafkajs) only look up partitions.
    type Factory = (c: { cluster: AssignerCluster; groupId: string; logger: Logger }) => Assigner;
    this.assigners = (config.partitionAssigners ?? [PartitionAssigners.roundRobin]).map((a) =>
      (a as unknown as Factory)({ cluster, groupId: config.groupId, logger: kafka.logger() }),
    );
  }

  private readonly partitionCache = new Map<string, number[]>();

  logger(): Logger {
    return this.log_;
  }

  on(eventName: string, listener: (event: unknown) => void): () => void {
    if (!(Object.values(EVENTS) as string[]).includes(eventName))
      throw new KafkaJSNonRetriableError(`Event name should be one of ${Object.keys(EVENTS).join(', ')}`);
    this.emitter.on(eventName, listener);
    return () => this.emitter.removeListener(eventName, listener);
  }

  private emit(type: string, payload: unknown): void {
    if (this.emitter.listenerCount(type) === 0) return;
    try {
      this.emitter.emit(type, { id: String(this.requestId++), type, timestamp: Date.now(), payload });
    } catch (e) {
      this.log_.error('an instrumentation event listener threw', {
        event: type,
        error: (e as Error).message,
      });
    }
  }

  private c(): NativeRemoteClient {
    if (this.client === null) throw new KafkaJSError('The consumer is not connected');
    return this.client;
  }

  async connect(): Promise<void> {
    if (this.client !== null) return;
    this.client = await this.transport.acquire();
    this.emit(EVENTS.CONNECT, null);
  }

  async subscribe(s: ConsumerSubscribeTopics): Promise<void> {
    if (this.running)
      throw new KafkaJSNonRetriableError('Cannot subscribe to topic while consumer is running');
    const list = s.topics ?? (s.topic === undefined ? [] : [s.topic]);
    const topics = Array.isArray(list) ? list : [list];
    if (topics.length === 0) throw new KafkaJSNonRetriableError('Invalid topics array');
    this.topics.push(...topics);
    this.fromBeginning = s.fromBeginning ?? this.config.fromBeginning ?? false;
  }

  private async subscribedTopics(): Promise<string[]> {
    const c = this.c();
    const names = new Set(this.topics.filter((t): t is string => typeof t === 'string'));
    const patterns = this.topics.filter((t): t is RegExp => t instanceof RegExp);
    const meta = await call(() => c.metadata(patterns.length > 0 ? null : [...names]));
    for (const t of meta.topics) {
      if (t.errorCode !== 0) continue;
      if (!t.isInternal && patterns.some((p) => p.test(t.name))) names.add(t.name);
      this.partitionCache.set(
        t.name,
        t.partitions.map((p) => p.partition).sort((a, b) => a - b),
      );
    }
    return [...names].filter((n) => this.partitionCache.has(n)).sort();
  }

  async run(config: ConsumerRunConfig<K, V> = {}): Promise<void> {
    if (this.running) return;
    if (config.eachMessage === undefined && config.eachBatch === undefined)
      throw new KafkaJSNonRetriableError('Consumer.run needs eachMessage or eachBatch');
    this.c();
    this.running = true;
    this.loop = this.consume(config).catch((e: Error) => {
      this.running = false;
      this.log_.error('the consumer crashed', { error: e.message });
      this.emit(EVENTS.CRASH, { error: e, groupId: this.config.groupId });
    });
  }

  private async join(): Promise<void> {
    const c = this.c();
    const topics = await this.subscribedTopics();
    this.emit(EVENTS.REBALANCING, { groupId: this.config.groupId, memberId: this.memberId });
    const protocols = this.assigners.map((a) => ({
      name: a.name,
      metadata: a.protocol({ topics }).metadata,
    }));
    for (;;) {
      const j = await call(() =>
        c.joinGroup({
          groupId: this.config.groupId,
          sessionTimeoutMs: this.config.sessionTimeout ?? 30_000,
          rebalanceTimeoutMs: this.config.rebalanceTimeout ?? 60_000,
          memberId: this.memberId,
          protocolType: 'consumer',
          protocols,
        }),
      );
      if (j.errorCode === 25) {
        this.memberId = '';
        continue;
      }
      if (j.errorCode !== 0) throw kafkaError(j.errorCode, `JoinGroup ${this.config.groupId}`);
      this.memberId = j.memberId;
      this.generationId = j.generationId;
      let assignments: { memberId: string; assignment: Buffer }[] = [];
      if (j.leader === j.memberId) {
        const assigner = this.assigners.find((a) => a.name === j.protocolName) ?? this.assigners[0];
        if (assigner === undefined) throw new KafkaJSNonRetriableError('no partition assigner');
        const all = new Set<string>();
        for (const m of j.members)
          for (const t of AssignerProtocol.MemberMetadata.decode(m.metadata).topics) all.add(t);
        const missing = [...all].filter((t) => !this.partitionCache.has(t));
        if (missing.length > 0) {
          const meta = await call(() => c.metadata(missing));
          for (const t of meta.topics)
            this.partitionCache.set(
              t.name,
              t.partitions.map((p) => p.partition),
            );
        }
        const r = await assigner.assign({
          members: j.members.map((m) => ({ memberId: m.memberId, memberMetadata: m.metadata })),
          topics: [...all],
        });
        assignments = r.map((a) => ({ memberId: a.memberId, assignment: a.memberAssignment }));
      }
      const s = await call(() =>
        c.syncGroup(
          this.config.groupId,
          this.generationId,
          this.memberId,
          null,
          'consumer',
          j.protocolName ?? '',
          assignments,
        ),
      );
      if (REJOIN.has(s.errorCode)) continue;
      if (s.errorCode !== 0) throw kafkaError(s.errorCode, `SyncGroup ${this.config.groupId}`);
      const a = AssignerProtocol.MemberAssignment.decode(s.assignment);
      this.assignment = [];
      for (const [topic, parts] of Object.entries(a?.assignment ?? {}))
        for (const partition of parts) this.assignment.push({ topic, partition });
      this.rejoin = false;
      this.emit(EVENTS.GROUP_JOIN, {
        groupId: this.config.groupId,
        memberId: this.memberId,
        leaderId: j.leader,
        isLeader: j.leader === j.memberId,
        memberAssignment: a?.assignment ?? {},
        groupProtocol: j.protocolName,
      });
      await this.initPositions();
      return;
    }
  }

  private async initPositions(): Promise<void> {
    const c = this.c();
    this.positions.clear();
    this.uncommitted.clear();
    if (this.assignment.length === 0) return;
    const byTopic = new Map<string, number[]>();
    for (const a of this.assignment) byTopic.set(a.topic, [...(byTopic.get(a.topic) ?? []), a.partition]);
    const committed = await call(() =>
      c.offsetFetch(
        this.config.groupId,
        [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      ),
    );
    const missing: { topic: string; partition: number; value: number }[] = [];
    for (const a of this.assignment) {
      const o = committed.find((x) => x.topic === a.topic && x.partition === a.partition);
      if (o !== undefined && o.offset >= 0) this.positions.set(key(a.topic, a.partition), o.offset);
      else missing.push({ ...a, value: this.fromBeginning ? -2 : -1 });
    }
    await this.resetPositions(missing);
  }

  private async resetPositions(parts: { topic: string; partition: number; value: number }[]): Promise<void> {
    if (parts.length === 0) return;
    const c = this.c();
    const r = await call(() => c.listOffsets(parts));
    for (const x of r) {
      if (x.errorCode !== 0) throw kafkaError(x.errorCode, null, { topic: x.topic, partition: x.partition });
      this.positions.set(key(x.topic, x.partition), x.offset);
    }
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    const every = this.config.heartbeatInterval ?? 3000;
    this.heartbeatTimer = setInterval(() => {
      void this.heartbeat().catch((e: Error) => this.log_.warn('heartbeat failed', { error: e.message }));
    }, every);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private async heartbeat(): Promise<void> {
    if (this.client === null || this.rejoin) return;
    const c = this.client;
    const code = await call(() => c.heartbeat(this.config.groupId, this.generationId, this.memberId, null));
    if (REJOIN.has(code)) {
      this.rejoin = true;
      if (code === 25) this.memberId = '';
    } else if (code !== 0) throw kafkaError(code, 'Heartbeat');
    this.emit(EVENTS.HEARTBEAT, {
      groupId: this.config.groupId,
      memberId: this.memberId,
      groupGenerationId: this.generationId,
    });
  }

  private async consume(config: ConsumerRunConfig<K, V>): Promise<void> {
    const autoCommit = config.autoCommit ?? this.config.autoCommit ?? true;
    const interval = config.autoCommitInterval ?? this.config.autoCommitInterval ?? 5000;
    const threshold = config.autoCommitThreshold ?? this.config.autoCommitThreshold ?? null;
    let lastCommit = Date.now();
    this.startHeartbeat();
    try {
      while (this.running) {
        if (this.rejoin) {
          if (autoCommit) await this.commitUncommitted().catch(() => undefined);
          await this.join();
        }
        const c = this.c();
        const ready = this.assignment.filter((a) => !this.pausedSet.has(key(a.topic, a.partition)));
        // Kafka returns a batch larger than the partition limit only to the first
        // partition of a fetch: rotating the order lets every partition be first.
        const turn = ready.length === 0 ? 0 : this.rounds++ % ready.length;
        const wanted = [...ready.slice(turn), ...ready.slice(0, turn)];
        if (wanted.length === 0) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        this.emit(EVENTS.FETCH_START, {});
        const results = await call(() =>
          c.fetch(
            wanted.map((a) => ({
              topic: a.topic,
              partition: a.partition,
              offset: this.positions.get(key(a.topic, a.partition)) ?? 0,
              maxBytes: this.config.maxBytesPerPartition ?? 1024 * 1024,
            })),
            {
              maxWaitMs: this.config.maxWaitTimeInMs ?? 5000,
              minBytes: this.config.minBytes ?? 1,
              maxBytes: this.config.maxBytes ?? 10 * 1024 * 1024,
              isolationLevel: this.config.readUncommitted ? 0 : 1,
            },
          ),
        );
        this.emit(EVENTS.FETCH, { numberOfBatches: results.length, duration: 0 });
        const reset: { topic: string; partition: number; value: number }[] = [];
        for (const r of results) {
          if (!this.running || this.rejoin) break;
          const k = key(r.topic, r.partition);
          if (!this.assignment.some((a) => a.topic === r.topic && a.partition === r.partition)) continue;
          if (r.errorCode === 1) {
            reset.push({ topic: r.topic, partition: r.partition, value: this.fromBeginning ? -2 : -1 });
            continue;
          }
          if (r.errorCode !== 0) continue; // leader moved and the like: the next round asks again
          const from = this.positions.get(k) ?? 0;
          const messages = decodeMessages(wholeBatches(r.records), from).filter(
            (m) => !m.isControlRecord && m.offsetNumber >= from,
          );
          if (messages.length === 0) continue;
          await this.deliver(config, r.topic, r.partition, r.highWatermark, messages);
        }
        await this.resetPositions(reset);
        const pending = [...this.uncommitted.values()].length;
        if (
          autoCommit &&
          pending > 0 &&
          (Date.now() - lastCommit >= (interval ?? 5000) || (threshold !== null && pending >= threshold))
        ) {
          await this.commitUncommitted();
          lastCommit = Date.now();
        }
      }
      if (autoCommit)
        await this.commitUncommitted().catch((e: Error) =>
          this.log_.error('the final commit failed', { error: e.message }),
        );
    } finally {
      this.stopHeartbeat();
    }
  }

  private async deliver(
    config: ConsumerRunConfig<K, V>,
    topic: string,
    partition: number,
    highWatermark: number,
    messages: Message[],
  ): Promise<void> {
    const k = key(topic, partition);
    const kmsgs = messages as unknown as KafkaMessage<K, V>[];
    const advance = (offset: number): void => {
      this.positions.set(k, offset + 1);
      this.uncommitted.set(k, offset + 1);
    };
    const heartbeat = (): Promise<void> => this.heartbeat();
    const pause = (): (() => void) => {
      this.pausedSet.add(k);
      return () => this.pausedSet.delete(k);
    };
    if (config.eachBatch !== undefined) {
      const last = messages[messages.length - 1] as Message;
      const batch: Batch<K, V> = {
        topic,
        partition,
        highWatermark: String(highWatermark),
        messages: kmsgs,
        isEmpty: () => messages.length === 0,
        firstOffset: () => (messages[0] === undefined ? null : messages[0].offset),
        lastOffset: () => last.offset,
        offsetLag: () => String(Math.max(0, highWatermark - 1 - last.offsetNumber)),
        offsetLagLow: () => String(Math.max(0, highWatermark - 1 - (messages[0] as Message).offsetNumber)),
      };
      const autoResolve = config.eachBatchAutoResolve ?? true;
      this.emit(EVENTS.START_BATCH_PROCESS, { topic, partition, batchSize: messages.length });
      await config.eachBatch({
        batch,
        resolveOffset: (o: string) => advance(Number(o)),
        heartbeat,
        pause,
        commitOffsetsIfNecessary: async () => this.commitUncommitted(),
        uncommittedOffsets: () => this.uncommittedOffsets(),
        isRunning: () => this.running,
        isStale: () => this.rejoin,
      });
      if (autoResolve) advance(last.offsetNumber);
      this.emit(EVENTS.END_BATCH_PROCESS, { topic, partition, batchSize: messages.length });
      return;
    }
    for (const m of messages) {
      if (!this.running || this.rejoin || this.pausedSet.has(k)) return;
      await config.eachMessage?.({
        topic,
        partition,
        message: m as unknown as KafkaMessage<K, V>,
        heartbeat,
        pause,
      });
      advance(m.offsetNumber);
    }
  }

  private uncommittedOffsets(): OffsetsByTopicPartition {
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const [k, offset] of this.uncommitted) {
      const [topic, p] = k.split('\u0000') as [string, string];
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), { partition: Number(p), offset: String(offset) }]);
    }
    return { topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) };
  }

  private async commitUncommitted(): Promise<void> {
    if (this.uncommitted.size === 0) return;
    const offsets = [...this.uncommitted].map(([k, offset]) => {
      const [topic, p] = k.split('\u0000') as [string, string];
      return { topic, partition: Number(p), offset: String(offset) };
    });
    this.uncommitted.clear();
    await this.commitOffsets(offsets);
  }

  async commitOffsets(offsets: TopicPartitionOffsetAndMetadata[]): Promise<void> {
    const c = this.c();
    const r = await call(() =>
      c.offsetCommit(
        this.config.groupId,
        this.generationId,
        this.memberId,
        null,
        offsets.map((o) => ({
          topic: o.topic,
          partition: o.partition,
          offset: Number(o.offset),
          // napi takes undefined, not null, for an absent field.
          ...(o.metadata === undefined || o.metadata === null ? {} : { metadata: o.metadata }),
        })),
      ),
    );
    for (const x of r) {
      if (REJOIN.has(x.errorCode)) this.rejoin = true;
      else if (x.errorCode !== 0)
        throw kafkaError(x.errorCode, null, { topic: x.topic, partition: x.partition });
    }
    this.emit(EVENTS.COMMIT_OFFSETS, {
      groupId: this.config.groupId,
      memberId: this.memberId,
      topics: offsets,
    });
  }

  seek({ topic, partition, offset }: { topic: string; partition: number; offset: string | number }): void {
    const o = Number(offset);
    if (!Number.isSafeInteger(o)) throw new KafkaJSNonRetriableError(`Invalid offset ${String(offset)}`);
    this.positions.set(key(topic, partition), o);
    this.uncommitted.set(key(topic, partition), o);
  }

  pause(topics: { topic: string; partitions?: number[] }[]): void {
    for (const t of topics) {
      const parts = t.partitions ?? this.partitionCache.get(t.topic) ?? [];
      for (const p of parts) this.pausedSet.add(key(t.topic, p));
    }
  }

  resume(topics: { topic: string; partitions?: number[] }[]): void {
    for (const t of topics) {
      const parts = t.partitions ?? this.partitionCache.get(t.topic) ?? [];
      for (const p of parts) this.pausedSet.delete(key(t.topic, p));
    }
  }

  paused(): { topic: string; partitions: number[] }[] {
    const byTopic = new Map<string, number[]>();
    for (const k of this.pausedSet) {
      const [topic, p] = k.split('\u0000') as [string, string];
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), Number(p)]);
    }
    return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.loop = null;
    this.emit(EVENTS.STOP, null);
  }

  async disconnect(): Promise<void> {
    if (this.client === null) return;
    await this.stop();
    const c = this.client;
    if (this.memberId !== '')
      await call(() => c.leaveGroup(this.config.groupId, this.memberId, null)).catch(() => undefined);
    this.memberId = '';
    this.rejoin = true;
    this.client = null;
    await this.transport.release();
    this.emit(EVENTS.DISCONNECT, null);
  }
}
