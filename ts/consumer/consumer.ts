/**
 * The kafkajs-compatible consumer.
 *
 * Each assigned partition has its own loop: read whole batches from the
 * log (zero-copy views), hand them to `eachMessage` or `eachBatch`, and
 * when the partition is caught up, wait on the engine's long-poll, which
 * holds no thread and no spinning timer. Loops run concurrently up to
 * `partitionsConsumedConcurrently`; within a partition, order is kept.
 *
 * Liveness does not depend on the handlers: a timer heartbeats every
 * `heartbeatInterval` however busy they are, and a handler that makes no
 * progress (returns, or calls heartbeat()) within `rebalanceTimeout` takes
 * the member out of the group, as Kafka's max.poll.interval.ms does.
 *
 * Delivery is at least once: only offsets of processed messages are
 * committed (after each batch by default, or per `autoCommitInterval` /
 * `autoCommitThreshold`, and always when partitions are revoked, on stop
 * and on disconnect), so a crash redelivers and never skips.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createLocalCluster } from '../client/cluster';
import type { Kafka } from '../client/kafka';
import type { Logger } from '../client/logger';
import type { RetryOptions } from '../client/retry';
import { decodeMessages, type IHeaders, type Message as RawMessage } from '../codec';
import { KafkaJSError, KafkaJSNonRetriableError, OffsetOutOfRangeError } from '../errors';
import { type Assigner, type GroupMemberAssignment, roundRobin } from '../group/assigners';
import { type Assignment, GroupCoordinator, type GroupMember, type MemberHooks } from '../group/coordinator';
import { KafkaJSRebalanceError } from '../group/errors';
import { partitionKey } from '../group/member';
import { type Log, topicEvents } from '../log';
import {
  type ConsumerEventMap,
  type ConsumerEvents,
  checkEventName,
  CONSUMER_EVENTS as EVENTS,
  type RemoveInstrumentationEventListener,
} from '../types/events';
import type { GroupDescription, PartitionAssigner as KafkaJSPartitionAssigner } from '../types/kafkajs';
import { batchEventInfo, makeBatch } from './batch';
import type { Deserializer } from './deserializers';
import { messageIterator } from './iterator';
import { ConsumerLogs } from './kafkajs-log';
import { ConsumedMessage } from './message';
import { Subscriptions } from './subscriptions';

export type { ConsumerEvents } from '../types/events';

export interface ConsumerConfig<K = Buffer | null, V = Buffer | null> {
  groupId: string;
  /** kafkajs' assigner factories (ferrolog's built-in ones fit too). */
  partitionAssigners?: KafkaJSPartitionAssigner[];
  metadataMaxAge?: number;
  sessionTimeout?: number;
  rebalanceTimeout?: number;
  heartbeatInterval?: number;
  maxBytesPerPartition?: number;
  minBytes?: number;
  maxBytes?: number;
  maxWaitTimeInMs?: number;
  retry?: RetryOptions;
  allowAutoTopicCreation?: boolean;
  maxInFlightRequests?: number;
  readUncommitted?: boolean;
  rackId?: string;
  /** Defaults for `run` and `subscribe`, in the shape tutorials write them. */
  autoCommit?: boolean;
  autoCommitInterval?: number | null;
  autoCommitThreshold?: number | null;
  fromBeginning?: boolean;
  deserializers?: { key?: Deserializer<K>; value?: Deserializer<V> };
}

/**
 * A consumed message in kafkajs' shape (its RecordBatch entry); key and
 * value deserialized on read. ferrolog's additions are optional so messages
 * written by hand, as kafkajs tests do, still fit.
 */
export interface KafkaMessage<K = Buffer | null, V = Buffer | null> {
  key: K | null;
  value: V | null;
  timestamp: string;
  attributes: number;
  offset: string;
  headers: IHeaders;
  /** Only old (magic 0/1) message sets have a size; RecordBatch entries never do. */
  size?: never;
  /** The bytes before deserialization (always set on messages ferrolog delivers). */
  rawKey?: Buffer | null;
  rawValue?: Buffer | null;
}

export interface EachMessagePayload<K = Buffer | null, V = Buffer | null> {
  topic: string;
  partition: number;
  message: KafkaMessage<K, V>;
  heartbeat(): Promise<void>;
  /** Pauses this topic-partition; returns a function that resumes it. */
  pause(): () => void;
}

export interface Batch<K = Buffer | null, V = Buffer | null> {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: KafkaMessage<K, V>[];
  isEmpty(): boolean;
  firstOffset(): string | null;
  lastOffset(): string;
  offsetLag(): string;
  offsetLagLow(): string;
}

export interface OffsetsByTopicPartition {
  topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
}

export type EachMessageHandler<K = Buffer | null, V = Buffer | null> = (
  payload: EachMessagePayload<K, V>,
) => Promise<void>;
export type EachBatchHandler<K = Buffer | null, V = Buffer | null> = (
  payload: EachBatchPayload<K, V>,
) => Promise<void>;
/** kafkajs' aliases from @types/kafkajs. */
export type ConsumerEachMessagePayload<K = Buffer | null, V = Buffer | null> = EachMessagePayload<K, V>;
export type ConsumerEachBatchPayload<K = Buffer | null, V = Buffer | null> = EachBatchPayload<K, V>;

export interface EachBatchPayload<K = Buffer | null, V = Buffer | null> {
  batch: Batch<K, V>;
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  pause(): () => void;
  commitOffsetsIfNecessary(offsets?: OffsetsByTopicPartition): Promise<void>;
  uncommittedOffsets(): OffsetsByTopicPartition;
  isRunning(): boolean;
  isStale(): boolean;
}

export interface ConsumerRunConfig<K = Buffer | null, V = Buffer | null> {
  autoCommit?: boolean;
  autoCommitInterval?: number | null;
  autoCommitThreshold?: number | null;
  eachBatchAutoResolve?: boolean;
  partitionsConsumedConcurrently?: number;
  eachBatch?: EachBatchHandler<K, V>;
  eachMessage?: EachMessageHandler<K, V>;
}

export interface ConsumerSubscribeTopics {
  topics?: (string | RegExp)[] | string | RegExp;
  topic?: string | RegExp;
  fromBeginning?: boolean;
}

export interface TopicPartitionOffsetAndMetadata {
  topic: string;
  partition: number;
  offset: string;
  metadata?: string | null;
}

/** A wake-up that any number of loops can wait on. */
class Signal {
  private waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }
  fire(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}

interface PartitionState {
  topic: string;
  partition: number;
  /** The next offset to read. */
  position: number;
  /** The offset after the last processed message (what a commit stores). */
  resolved: number;
  committed: number;
  /** Messages resolved since the last commit. */
  uncommittedCount: number;
  stopped: boolean;
  paused: boolean;
  /** Bumped by seek and revocation: batches fetched before are stale. */
  epoch: number;
  wake: Signal;
  /** Aborts the long-poll in progress. */
  abort: AbortController | null;
  /**
   * When the handler in hand started, or last called heartbeat(); 0 while no
   * handler runs. The heartbeat timer evicts the member when this is older
   * than rebalanceTimeout (Kafka's max.poll.interval.ms).
   */
  busySince: number;
  done: Promise<void>;
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class Consumer<K = Buffer | null, V = Buffer | null> {
  readonly events: ConsumerEvents = EVENTS;
  readonly groupId: string;
  private readonly kafka: Kafka;
  private readonly log_: Logger;
  private readonly emitter = new EventEmitter();
  private readonly config: ConsumerConfig<K, V>;
  private readonly sessionTimeout: number;
  private readonly rebalanceTimeout: number;
  private readonly heartbeatInterval: number;
  private readonly maxBytesPerPartition: number;
  private readonly maxWaitTimeInMs: number;
  private readonly retry: RetryOptions;
  private readonly assignerFactories: KafkaJSPartitionAssigner[];
  private assignerInstances: Assigner[] = [];

  private state: 'disconnected' | 'connected' | 'running' | 'stopping' = 'disconnected';
  private coordinator: GroupCoordinator | null = null;
  /** This consumer's membership of its group (a new one after an eviction). */
  private member: GroupMember | null = null;
  private lastHeartbeat = 0;
  private log: Log | null = null;
  private readonly subscriptions = new Subscriptions();
  private memberId = '';
  private generationId = -1;
  private readonly partitions = new Map<string, PartitionState>();
  /** Seeks made before their partition was assigned (kafkajs applies them on assignment). */
  private readonly pendingSeeks = new Map<string, number>();
  private runConfig: ConsumerRunConfig<K, V> = {};
  private slotsFree = 1;
  private readonly slotWaiters: (() => void)[] = [];
  private handlersRunning = 0;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private autoCommitTimer: NodeJS.Timeout | null = null;
  private evicted = false;
  private topicListener: ((dir: string, topic: string) => void) | null = null;
  private rejoining: Promise<void> | null = null;
  private joinStarted = 0;
  /** kafkajs' log lines; `joinedGeneration` says whether this join has had its assignment. */
  private readonly kjsLog: ConsumerLogs;
  private joinedGeneration = false;

  constructor(kafka: Kafka, config: ConsumerConfig<K, V>) {
    if (
      config === null ||
      typeof config !== 'object' ||
      typeof config.groupId !== 'string' ||
      config.groupId.length === 0
    ) {
      throw new KafkaJSNonRetriableError('Consumer groupId must be a non-empty string');
    }
    this.kafka = kafka;
    this.config = config;
    this.groupId = config.groupId;
    this.log_ = kafka.logger().namespace('Consumer');
    this.kjsLog = new ConsumerLogs(kafka.logger());
    this.sessionTimeout = config.sessionTimeout ?? 30_000;
    this.rebalanceTimeout = config.rebalanceTimeout ?? 60_000;
    this.heartbeatInterval = config.heartbeatInterval ?? 3_000;
    this.maxBytesPerPartition = config.maxBytesPerPartition ?? 1024 * 1024;
    this.maxWaitTimeInMs = config.maxWaitTimeInMs ?? 5_000;
    this.retry = config.retry ?? kafka.retry ?? {};
    this.assignerFactories = config.partitionAssigners ?? [roundRobin];
    for (const [name, v] of [
      ['sessionTimeout', this.sessionTimeout],
      ['rebalanceTimeout', this.rebalanceTimeout],
      ['heartbeatInterval', this.heartbeatInterval],
      ['maxBytesPerPartition', this.maxBytesPerPartition],
      ['maxWaitTimeInMs', this.maxWaitTimeInMs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0)
        throw new KafkaJSNonRetriableError(`${name} must be a non-negative integer`);
    }
    if (this.assignerFactories.length === 0)
      throw new KafkaJSNonRetriableError('partitionAssigners must not be empty');
  }

  logger(): Logger {
    return this.log_;
  }

  /** kafkajs' instrumentation events, the payload typed by the name; returns a function that removes the listener. */
  on<E extends keyof ConsumerEventMap>(
    eventName: E,
    listener: (event: ConsumerEventMap[E]) => void,
  ): RemoveInstrumentationEventListener<E> {
    checkEventName('consumer', EVENTS, eventName);
    this.emitter.on(eventName, listener);
    return () => this.emitter.removeListener(eventName, listener);
  }

  private emit(type: string, payload: unknown): void {
    if (this.emitter.listenerCount(type) === 0) return;
    try {
      this.emitter.emit(type, { id: randomUUID(), type, timestamp: Date.now(), payload });
    } catch (e) {
      // Events are emitted from the middle of joins, crashes and commits: a
      // listener that throws must not leave those half done (run() pending
      // for ever, a crash that never stops). Its error is logged instead.
      this.log_.error('an instrumentation event listener threw', {
        event: type,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  async connect(): Promise<void> {
    if (this.state !== 'disconnected') return;
    // The log first: it waits per `retry` while another process holds the directory.
    const log = await this.kafka.openLogWithRetry(this.retry);
    const coordinator = GroupCoordinator.acquire(() => this.kafka.openLog());
    try {
      await coordinator.ready();
    } catch (e) {
      await log.close().catch(() => undefined);
      await coordinator.release().catch(() => undefined);
      throw e;
    }
    this.coordinator = coordinator;
    this.log = log;
    // kafkajs hands assigners the cluster, the group id and the root logger.
    const cluster = createLocalCluster(() => log);
    this.assignerInstances = this.assignerFactories.map((f) =>
      f({ cluster, groupId: this.groupId, logger: this.kafka.logger() }),
    );
    this.state = 'connected';
    this.emit(EVENTS.CONNECT, null);
  }

  /** kafkajs' subscribe: strings and RegExps; RegExps also match topics created later. */
  async subscribe(subscription: ConsumerSubscribeTopics): Promise<void> {
    if (this.state === 'running')
      throw new KafkaJSNonRetriableError('Cannot subscribe to topic while consumer is running');
    if (this.state === 'disconnected')
      throw new KafkaJSNonRetriableError('The consumer must be connected before subscribing');
    if (subscription === null || typeof subscription !== 'object')
      throw new KafkaJSNonRetriableError('subscribe needs { topics }');
    const raw = subscription.topics ?? subscription.topic;
    const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    if (list.length === 0) throw new KafkaJSNonRetriableError('Missing required argument "topics"');
    const fromBeginning = subscription.fromBeginning ?? this.config.fromBeginning ?? false;
    for (const t of list) {
      if (!(typeof t === 'string' && t.length > 0) && !(t instanceof RegExp)) {
        throw new KafkaJSNonRetriableError(`Invalid topic ${String(t)}: use a non-empty string or a RegExp`);
      }
      if (typeof t === 'string' && this.log?.partitionCount(t) === -1) {
        if (this.config.allowAutoTopicCreation === false) {
          throw new KafkaJSNonRetriableError(
            `topic "${t}" does not exist and allowAutoTopicCreation is false`,
          );
        }
        try {
          this.log.createTopic(t, { partitions: this.kafka.defaultNumPartitions });
        } catch (e) {
          if (!(e instanceof KafkaJSError && (e as { code?: string }).code === 'ERR_TOPIC_EXISTS')) throw e;
        }
      }
      this.subscriptions.add(t, fromBeginning);
      if (t instanceof RegExp) {
        const matched = (this.log?.topics() ?? []).map((d) => d.name).filter((n) => t.test(n));
        this.kjsLog.subscribedRegExp(this.groupId, t, matched);
      }
    }
  }

  private subscribedTopics(): string[] {
    const log = this.log;
    if (log === null) return [];
    return this.subscriptions.topics(log.topics().map((t) => t.name));
  }

  private fromBeginningFor(topic: string): boolean {
    return this.subscriptions.fromBeginningFor(topic);
  }

  /** Starts consuming; resolves once the consumer has joined its group. */
  async run(config: ConsumerRunConfig<K, V> = {}): Promise<void> {
    if (this.state === 'disconnected')
      throw new KafkaJSNonRetriableError('The consumer must be connected before run');
    if (this.state === 'running') throw new KafkaJSNonRetriableError('The consumer is already running');
    if (this.subscriptions.size === 0)
      throw new KafkaJSNonRetriableError('The consumer must subscribe before run');
    if (typeof config.eachMessage !== 'function' && typeof config.eachBatch !== 'function') {
      throw new KafkaJSNonRetriableError('run needs eachMessage or eachBatch');
    }
    const concurrency = config.partitionsConsumedConcurrently ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new KafkaJSNonRetriableError('partitionsConsumedConcurrently must be a positive integer');
    }
    this.runConfig = {
      ...config,
      autoCommit: config.autoCommit ?? this.config.autoCommit ?? true,
      autoCommitInterval: config.autoCommitInterval ?? this.config.autoCommitInterval ?? null,
      autoCommitThreshold: config.autoCommitThreshold ?? this.config.autoCommitThreshold ?? null,
      eachBatchAutoResolve: config.eachBatchAutoResolve ?? true,
    };
    this.slotsFree = concurrency;
    this.state = 'running';
    if (this.subscriptions.hasRegExp()) {
      const dir = this.log?.dataDir;
      this.topicListener = (d, topic) => {
        if (d !== dir || this.state !== 'running') return;
        if (this.subscriptions.regExpMatches(topic)) {
          void this.member
            ?.rebalance()
            .catch((e: Error) => this.log_.error('rebalance failed', { error: e.message }));
        }
      };
      topicEvents.on('created', this.topicListener);
    }
    const interval = this.runConfig.autoCommitInterval;
    if (this.runConfig.autoCommit && typeof interval === 'number' && interval > 0) {
      this.autoCommitTimer = setInterval(() => this.commitResolved().catch(() => undefined), interval);
      this.autoCommitTimer.unref();
    }
    // Liveness and progress are separate, as with the Java client's
    // heartbeat thread: the session is kept alive on this timer's schedule,
    // however long the handlers keep the member busy, and a handler that
    // makes no progress (returns or calls heartbeat()) within
    // rebalanceTimeout gets the member out of the group, as
    // max.poll.interval.ms does, so its partitions move on.
    this.heartbeatTimer = setInterval(() => this.tick(), Math.max(1, this.heartbeatInterval));
    this.heartbeatTimer.unref();
    this.kjsLog.starting(this.groupId);
    await this.join();
  }

  private hooks(): MemberHooks {
    return {
      clientId: this.kafka.clientId,
      sessionTimeout: this.sessionTimeout,
      rebalanceTimeout: this.rebalanceTimeout,
      subscribedTopics: () => this.subscribedTopics(),
      assigners: () => this.assignerInstances,
      owned: () => this.ownedAssignment(),
      partitionCount: (topic) => this.log?.partitionCount(topic) ?? -1,
      onMemberId: (memberId) => {
        this.memberId = memberId;
      },
      onRebalancing: () => {
        // Only a member that has joined learns of a rebalance; a joining one is part of it.
        if (this.joinedGeneration && this.state === 'running')
          this.kjsLog.rebalancing(this.groupId, this.memberId);
        this.emit(EVENTS.REBALANCING, { groupId: this.groupId, memberId: this.memberId });
      },
      revoke: (partitions) => this.revoke(partitions),
      assign: (generationId, assignment, info, committed) =>
        this.assign(generationId, assignment, info, committed),
      onError: (error) => {
        if (this.state === 'running') this.scheduleCrash(error);
      },
      onLost: (reason) => {
        this.log_.warn('partitions lost', { groupId: this.groupId, memberId: this.memberId, reason });
        for (const ps of this.partitions.values()) this.stopPartition(ps);
        this.partitions.clear();
      },
      onEvicted: (reason) => {
        this.log_.warn('evicted from the group', { groupId: this.groupId, memberId: this.memberId, reason });
        this.evicted = true;
        // Partitions are gone: stop them now without committing.
        for (const ps of this.partitions.values()) this.stopPartition(ps);
        this.partitions.clear();
        void this.rejoinWhenIdle();
      },
    };
  }

  private async join(): Promise<void> {
    const coordinator = this.coordinator as GroupCoordinator;
    if (this.member !== null) coordinator.forget(this.member);
    this.memberId = '';
    this.evicted = false;
    this.joinedGeneration = false;
    this.joinStarted = Date.now();
    const member = coordinator.member(this.groupId, this.hooks());
    this.member = member;
    try {
      await member.start();
    } catch (e) {
      // stop() or disconnect() during the join left the group: the join is
      // over as asked, not failed.
      if (this.state !== 'running') return;
      throw e;
    }
  }

  /** After an eviction: once the stalled handler is done, join again. */
  private rejoinWhenIdle(): Promise<void> {
    if (this.rejoining !== null) return this.rejoining;
    this.rejoining = (async () => {
      while (this.handlersRunning > 0 && this.state === 'running')
        await new Promise((r) => setTimeout(r, 10));
      if (this.state === 'running') {
        try {
          await this.join();
        } catch (e) {
          this.log_.error('rejoin failed', { error: (e as Error).message });
        }
      }
    })().finally(() => {
      this.rejoining = null;
    });
    return this.rejoining;
  }

  /** The heartbeat timer: a heartbeat, or leaving when a handler is stuck. */
  private tick(): void {
    if (this.coordinator === null || this.state !== 'running' || this.evicted) return;
    const now = Date.now();
    for (const ps of this.partitions.values()) {
      if (ps.busySince > 0 && now - ps.busySince > this.rebalanceTimeout) {
        void this.member?.evict(
          `a handler for ${ps.topic}-${ps.partition} made no progress within ${this.rebalanceTimeout} ms (rebalanceTimeout)`,
        );
        return;
      }
    }
    this.sendHeartbeat(true);
  }

  /**
   * A heartbeat to the coordinator (which answers whether a rebalance is
   * under way): on the timer, and between batches at most once per
   * heartbeatInterval.
   */
  private sendHeartbeat(timer = false): void {
    const member = this.member;
    if (member === null || this.state !== 'running' || this.evicted) return;
    const now = Date.now();
    if (!timer && now - this.lastHeartbeat < this.heartbeatInterval) return;
    this.lastHeartbeat = now;
    member.heartbeat().then(
      (ok) => {
        if (ok)
          this.emit(EVENTS.HEARTBEAT, {
            groupId: this.groupId,
            memberId: this.memberId,
            groupGenerationId: this.generationId,
          });
      },
      // The log closing under a stopping consumer: nothing to tell anyone.
      () => undefined,
    );
  }

  private ownedAssignment(): Assignment {
    const out: Assignment = {};
    for (const ps of this.partitions.values()) {
      const list = out[ps.topic] ?? [];
      list.push(ps.partition);
      out[ps.topic] = list;
    }
    for (const ps of Object.values(out)) ps.sort((a, b) => a - b);
    return out;
  }

  private assign(
    generationId: number,
    assignment: Assignment,
    info: {
      leaderId: string;
      groupProtocol: string;
      groupAssignment?: GroupMemberAssignment[];
      topicsSubscribed?: string[];
    },
    committedOffsets: Map<string, number>,
  ): void {
    this.generationId = generationId;
    this.joinedGeneration = true;
    this.kjsLog.joined({
      groupId: this.groupId,
      generationId,
      memberId: this.memberId,
      leaderId: info.leaderId,
      groupProtocol: info.groupProtocol,
      topics: this.subscribedTopics(),
      ...(info.topicsSubscribed === undefined ? {} : { topicsSubscribed: info.topicsSubscribed }),
      ...(info.groupAssignment === undefined ? {} : { groupAssignment: info.groupAssignment }),
      memberAssignment: assignment,
      duration: Date.now() - this.joinStarted,
      concurrency: this.runConfig.partitionsConsumedConcurrently ?? 1,
    });
    // kafkajs emits GROUP_JOIN for every generation a member joins.
    this.emit(EVENTS.GROUP_JOIN, {
      duration: Date.now() - this.joinStarted,
      groupId: this.groupId,
      isLeader: info.leaderId === this.memberId,
      leaderId: info.leaderId,
      groupProtocol: info.groupProtocol,
      memberId: this.memberId,
      memberAssignment: assignment,
    });
    const log = this.log as Log;
    for (const [topic, parts] of Object.entries(assignment)) {
      for (const partition of parts) {
        const k = key(topic, partition);
        if (this.partitions.has(k)) continue;
        const w = log.watermarks(topic, partition);
        const committed = committedOffsets.get(partitionKey(topic, partition));
        const sought = this.pendingSeeks.get(k);
        this.pendingSeeks.delete(k);
        let position: number;
        if (sought !== undefined) {
          position = sought;
        } else if (committed !== undefined && committed >= w.logStartOffset && committed <= w.highWatermark) {
          position = committed;
        } else {
          position = this.fromBeginningFor(topic) ? w.logStartOffset : w.highWatermark;
        }
        const ps: PartitionState = {
          topic,
          partition,
          position,
          resolved: position,
          committed: committed ?? -1,
          uncommittedCount: 0,
          stopped: false,
          paused: this.isPaused(topic, partition),
          epoch: 0,
          wake: new Signal(),
          abort: null,
          busySince: 0,
          done: Promise.resolve(),
        };
        this.partitions.set(k, ps);
        ps.done = this.partitionLoop(ps);
      }
    }
  } /**
   * Stops a partition's loop (revocation, stop, eviction). Unlike a seek,
   * this does not make the message in hand stale: once its handler
   * succeeds it counts as processed, so it is committed, not redelivered.
   */
  private stopPartition(ps: PartitionState): void {
    ps.stopped = true;
    ps.abort?.abort();
    ps.wake.fire();
  }

  /** Releases partitions for a rebalance: stop, finish the message in hand, commit. */
  private async revoke(partitions: Assignment): Promise<void> {
    const states: PartitionState[] = [];
    for (const [topic, ps] of Object.entries(partitions)) {
      for (const p of ps) {
        const s = this.partitions.get(key(topic, p));
        if (s !== undefined) states.push(s);
      }
    }
    for (const s of states) this.stopPartition(s);
    await Promise.all(states.map((s) => s.done));
    if (this.runConfig.autoCommit) await this.commitResolved(states).catch(() => undefined);
    for (const s of states) this.partitions.delete(key(s.topic, s.partition));
  }

  private async acquireSlot(): Promise<void> {
    if (this.slotsFree > 0) {
      this.slotsFree--;
      return;
    }
    await new Promise<void>((r) => this.slotWaiters.push(r));
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.slotsFree++;
  }

  /**
   * A partition's loop. Its promise is awaited only when the partition is
   * released, so it must not reject: an unexpected error (a threshold
   * commit refused, say) crashes the consumer, through the CRASH path.
   */
  private async partitionLoop(ps: PartitionState): Promise<void> {
    try {
      await this.consumePartition(ps);
    } catch (e) {
      this.scheduleCrash(e instanceof Error ? e : new KafkaJSError(String(e)));
    }
  }

  private async consumePartition(ps: PartitionState): Promise<void> {
    const log = this.log as Log;
    while (!ps.stopped && this.state === 'running') {
      if (ps.paused) {
        await ps.wake.wait();
        continue;
      }
      let r: ReturnType<Log['read']>;
      try {
        r = log.read(ps.topic, ps.partition, ps.position, this.maxBytesPerPartition);
      } catch (e) {
        if (e instanceof OffsetOutOfRangeError) {
          // Retention overtook us, or a seek went past the end: reset as Kafka's auto.offset.reset.
          const w = log.watermarks(ps.topic, ps.partition);
          ps.position =
            this.fromBeginningFor(ps.topic) || ps.position < w.logStartOffset
              ? w.logStartOffset
              : w.highWatermark;
          continue;
        }
        this.log_.error('read failed', {
          topic: ps.topic,
          partition: ps.partition,
          error: (e as Error).message,
        });
        this.scheduleCrash(e as Error);
        return;
      }
      if (r.batches.length === 0) {
        this.sendHeartbeat();
        ps.abort = new AbortController();
        await Promise.race([
          log.waitForData(ps.topic, ps.partition, ps.position, this.maxWaitTimeInMs, ps.abort.signal),
          ps.wake.wait(),
        ]);
        ps.abort.abort();
        ps.abort = null;
        continue;
      }
      const epoch = ps.epoch;
      let raw: RawMessage[];
      try {
        // Batch by batch past the budget: decompressed bytes held at once
        // per partition stay near maxBytesPerPartition (at least one batch).
        raw = decodeMessages(r.batches, ps.position, [], this.maxBytesPerPartition);
      } catch (e) {
        this.scheduleCrash(e as Error);
        return;
      }
      if (raw.length === 0) {
        // Only control records or offsets below the position: skip past them.
        ps.position = r.nextOffset;
        continue;
      }
      await this.acquireSlot();
      let ok = true;
      try {
        if (ps.stopped || ps.epoch !== epoch) continue;
        ok = await this.process(ps, raw, r.highWatermark, epoch);
      } finally {
        this.releaseSlot();
      }
      if (!ok) return;
    }
  }

  private wrap(raw: RawMessage, ps: PartitionState): KafkaMessage<K, V> {
    const des = this.config.deserializers;
    if (des?.key === undefined && des?.value === undefined) return raw as unknown as KafkaMessage<K, V>;
    return new ConsumedMessage<K, V>(raw, ps.topic, ps.partition, des.key, des.value);
  }

  private pauseFn(ps: PartitionState): () => () => void {
    return () => {
      this.pause([{ topic: ps.topic, partitions: [ps.partition] }]);
      return () => this.resume([{ topic: ps.topic, partitions: [ps.partition] }]);
    };
  }

  private heartbeatFn(ps: PartitionState): () => Promise<void> {
    return async () => {
      // Calling heartbeat() is progress: the handler is alive.
      if (ps.busySince > 0) ps.busySince = Date.now();
      this.sendHeartbeat();
    };
  }

  /** Hands fetched messages to the handler; false when the consumer crashed. */
  private async process(
    ps: PartitionState,
    raw: RawMessage[],
    highWatermark: number,
    epoch: number,
  ): Promise<boolean> {
    const cfg = this.runConfig;
    const isStale = () => ps.epoch !== epoch || ps.stopped;
    const des = this.config.deserializers;
    // Without deserializers the decoded messages are handed over as they are.
    const messages =
      des?.key === undefined && des?.value === undefined
        ? (raw as unknown as KafkaMessage<K, V>[])
        : raw.map((m) => this.wrap(m, ps));
    const last = raw[raw.length - 1] as RawMessage;
    const batchInfo = batchEventInfo(ps.topic, ps.partition, highWatermark, raw);
    this.emit(EVENTS.START_BATCH_PROCESS, batchInfo);
    const started = Date.now();
    if (cfg.eachMessage !== undefined) {
      const handler = cfg.eachMessage;
      // Made once per batch: the per-message path allocates only the payload.
      const heartbeat = this.heartbeatFn(ps);
      const pause = this.pauseFn(ps);
      const threshold =
        cfg.autoCommit && typeof cfg.autoCommitThreshold === 'number' && cfg.autoCommitThreshold > 0
          ? cfg.autoCommitThreshold
          : 0;
      for (let i = 0; i < messages.length; i++) {
        if (isStale() || this.state !== 'running') break;
        const message = messages[i] as KafkaMessage<K, V>;
        const payload = { topic: ps.topic, partition: ps.partition, message, heartbeat, pause };
        // The first attempt runs inline; only a failure takes the retry path.
        let failure: unknown;
        let failed = false;
        this.handlersRunning++;
        ps.busySince = Date.now();
        try {
          await handler(payload);
        } catch (e) {
          failed = true;
          failure = e;
        } finally {
          this.handlersRunning--;
          ps.busySince = 0;
        }
        if (failed && !(await this.retryHandler(ps, failure, () => handler(payload)))) return false;
        // After a seek the message in hand no longer counts; after a stop it does.
        if (ps.epoch !== epoch) break;
        const next = (raw[i] as RawMessage).offsetNumber + 1;
        ps.resolved = next;
        ps.position = next;
        ps.uncommittedCount++;
        if (ps.paused || ps.stopped) break;
        if (threshold > 0 && ps.uncommittedCount >= threshold) await this.commitResolved([ps]);
      }
    } else if (cfg.eachBatch !== undefined) {
      const handler = cfg.eachBatch;
      const batch = makeBatch<K, V>(ps.topic, ps.partition, highWatermark, raw, messages);
      const resolveOffset = (offset: string) => {
        const next = Number(offset) + 1;
        if (!Number.isSafeInteger(next)) throw new KafkaJSNonRetriableError(`invalid offset ${offset}`);
        if (next > ps.resolved && ps.epoch === epoch) {
          ps.uncommittedCount += next - ps.resolved;
          ps.resolved = next;
        }
      };
      const ok = await this.invoke(ps, () =>
        handler({
          batch,
          resolveOffset,
          heartbeat: this.heartbeatFn(ps),
          pause: this.pauseFn(ps),
          commitOffsetsIfNecessary: async (offsets) => {
            if (offsets !== undefined) await this.commitOffsets(flatten(offsets));
            else await this.commitIfNecessary([ps]);
          },
          uncommittedOffsets: () => this.uncommitted(),
          isRunning: () => this.state === 'running',
          isStale,
        }),
      );
      if (!ok) return false;
      // A seek discards the batch; a stop does not: the handler finished it.
      if (ps.epoch !== epoch) return true;
      if (cfg.eachBatchAutoResolve) resolveOffset(last.offset);
      // Unresolved messages are fetched again, as kafkajs does.
      ps.position = ps.resolved;
    }
    this.emit(EVENTS.END_BATCH_PROCESS, { ...batchInfo, duration: Date.now() - started });
    this.sendHeartbeat();
    await this.commitIfNecessary([ps]);
    return true;
  }

  /**
   * Runs a handler, retrying with backoff per `retry`. After the retries the
   * consumer crashes: kafkajs' CRASH event, then `restartOnFailure` decides
   * whether it rejoins (redelivering from the last commit) or stops.
   */ private async invoke(ps: PartitionState, fn: () => Promise<void>): Promise<boolean> {
    let failure: unknown;
    this.handlersRunning++;
    ps.busySince = Date.now();
    try {
      await fn();
      return true;
    } catch (e) {
      failure = e;
    } finally {
      this.handlersRunning--;
      ps.busySince = 0;
    }
    return this.retryHandler(ps, failure, fn);
  }

  /** The retry path after a handler's first attempt failed with `first`. */
  private async retryHandler(ps: PartitionState, first: unknown, fn: () => Promise<void>): Promise<boolean> {
    const retries = this.retry.retries ?? 5;
    let wait = this.retry.initialRetryTime ?? 300;
    let error = first;
    for (let attempt = 1; ; attempt++) {
      if (attempt > retries || this.state !== 'running') {
        this.scheduleCrash(error as Error);
        return false;
      }
      this.log_.error('handler failed; retrying', { error: (error as Error).message, attempt });
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * (this.retry.multiplier ?? 2), this.retry.maxRetryTime ?? 30_000);
      this.handlersRunning++;
      ps.busySince = Date.now();
      try {
        await fn();
        return true;
      } catch (e) {
        error = e;
      } finally {
        this.handlersRunning--;
        ps.busySince = 0;
      }
    }
  }

  private crashing = false;

  /** Crashes outside the partition loop that failed, since halting waits for every loop. */
  private scheduleCrash(error: Error): void {
    setImmediate(() => {
      void this.crash(error);
    });
  }

  /**
   * Nothing awaits a crash (it starts from a timer), so it must not reject:
   * whatever goes wrong in it, including the restart's join, is logged.
   */
  private async crash(error: Error): Promise<void> {
    if (this.crashing) return;
    this.crashing = true;
    try {
      await this.crashAndRestart(error);
    } catch (e) {
      if (this.state === 'running' || this.state === 'connected') {
        this.log_.error('restart after a crash failed', { error: (e as Error).message });
      }
    } finally {
      this.crashing = false;
    }
  }

  private async crashAndRestart(error: Error): Promise<void> {
    const restartOnFailure = this.retry.restartOnFailure ?? (async () => true);
    let restart = false;
    try {
      restart = await restartOnFailure(error);
    } catch {
      restart = false;
    }
    this.emit(EVENTS.CRASH, { error, groupId: this.groupId, restart });
    this.log_.error('consumer crashed', { error: error.message, restart });
    // Leave without committing the failed message: it is redelivered.
    await this.halt(false);
    if (restart && this.state === 'connected') {
      await new Promise((r) => setTimeout(r, this.retry.initialRetryTime ?? 300));
      if (this.state === 'connected') await this.run(this.runConfig);
    }
  }

  private uncommitted(): OffsetsByTopicPartition {
    const topics = new Map<string, { partition: number; offset: string }[]>();
    for (const ps of this.partitions.values()) {
      if (ps.resolved > ps.committed) {
        const list = topics.get(ps.topic) ?? [];
        list.push({ partition: ps.partition, offset: String(ps.resolved) });
        topics.set(ps.topic, list);
      }
    }
    return { topics: [...topics.entries()].map(([topic, partitions]) => ({ topic, partitions })) };
  }

  private async maybeCommitThreshold(ps: PartitionState): Promise<void> {
    const threshold = this.runConfig.autoCommitThreshold;
    if (
      this.runConfig.autoCommit &&
      typeof threshold === 'number' &&
      threshold > 0 &&
      ps.uncommittedCount >= threshold
    ) {
      await this.commitResolved([ps]);
    }
  }

  private async commitIfNecessary(states: PartitionState[]): Promise<void> {
    const cfg = this.runConfig;
    if (!cfg.autoCommit) return;
    const timed = typeof cfg.autoCommitInterval === 'number' && cfg.autoCommitInterval > 0;
    const counted = typeof cfg.autoCommitThreshold === 'number' && cfg.autoCommitThreshold > 0;
    // With neither interval nor threshold, commit after every batch (kafkajs' default).
    if (!timed && !counted)
      await this.commitResolved(states).catch((e: Error) =>
        this.log_.warn('commit failed', { error: e.message }),
      );
    else if (counted) for (const s of states) await this.maybeCommitThreshold(s);
  }

  /** Commits what was processed (resolved) and not yet committed. */
  private async commitResolved(states: PartitionState[] = [...this.partitions.values()]): Promise<void> {
    const pending = states.filter((ps) => ps.resolved > ps.committed);
    const member = this.member;
    if (pending.length === 0 || this.coordinator === null || member === null || this.evicted) return;
    const commits = pending.map((ps) => ({ topic: ps.topic, partition: ps.partition, offset: ps.resolved }));
    this.coordinator.validate(commits);
    await member.commit(commits);
    for (const ps of pending) {
      ps.committed = ps.resolved;
      ps.uncommittedCount = 0;
    }
    this.emitCommit(commits);
  }

  private emitCommit(commits: { topic: string; partition: number; offset: number }[]): void {
    this.emit(EVENTS.COMMIT_OFFSETS, {
      groupId: this.groupId,
      memberId: this.memberId,
      groupGenerationId: this.generationId,
      topics: groupByTopic(commits.map((c) => ({ ...c, offset: String(c.offset) }))),
    });
  }

  /** kafkajs' commitOffsets: offsets are the next offsets to read, as strings. */
  async commitOffsets(offsets: TopicPartitionOffsetAndMetadata[]): Promise<void> {
    if (this.coordinator === null) throw new KafkaJSNonRetriableError('The consumer is not connected');
    if (!Array.isArray(offsets)) throw new KafkaJSNonRetriableError('commitOffsets needs an array');
    const commits = offsets.map((o) => {
      const offset = Number(o.offset);
      if (typeof o.offset !== 'string' && typeof o.offset !== 'number') {
        throw new KafkaJSNonRetriableError(`offset of ${o.topic}-${o.partition} must be a string`);
      }
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new KafkaJSNonRetriableError(
          `Invalid offset ${String(o.offset)} for ${o.topic}-${o.partition}`,
        );
      }
      return { topic: o.topic, partition: o.partition, offset, metadata: o.metadata ?? null };
    });
    const member = this.member;
    if (this.state === 'running' && !this.evicted && member !== null && member.active) {
      this.coordinator.validate(commits);
      await member.commit(commits);
    } else {
      await this.coordinator.commitSimple(this.groupId, commits);
    }
    for (const c of commits) {
      const ps = this.partitions.get(key(c.topic, c.partition));
      if (ps !== undefined) {
        ps.committed = c.offset;
        if (c.offset > ps.resolved) ps.resolved = c.offset;
        ps.uncommittedCount = 0;
      }
    }
    this.emitCommit(commits);
  }

  /**
   * Moves a partition's position; batches in flight for it become stale. A
   * seek for a partition not (yet) assigned applies when it is, as in kafkajs.
   */
  seek({ topic, partition, offset }: { topic: string; partition: number; offset: string | number }): void {
    if (this.state !== 'running') {
      throw new KafkaJSNonRetriableError(
        'Consumer group was not initialized, consumer#run must be called first',
      );
    }
    if (typeof offset !== 'string' && typeof offset !== 'number') {
      throw new KafkaJSNonRetriableError(`Offset must be a string, not ${typeof offset}`);
    }
    const o = parseOffset(offset);
    if (o < 0) throw new KafkaJSNonRetriableError(`Offset must not be a negative number: ${offset}`);
    if (typeof topic !== 'string' || !Number.isInteger(partition) || partition < 0) {
      throw new KafkaJSNonRetriableError(`Invalid topic-partition ${String(topic)}-${String(partition)}`);
    }
    const ps = this.partitions.get(key(topic, partition));
    if (ps === undefined) {
      this.pendingSeeks.set(key(topic, partition), o);
      return;
    }
    ps.position = o;
    ps.resolved = o;
    ps.epoch++;
    ps.abort?.abort();
    ps.wake.fire();
    const member = this.member;
    if (this.runConfig.autoCommit && member !== null) {
      const commits = [{ topic, partition, offset: o }];
      const failed = (e: unknown) =>
        this.log_.warn('commit of the seek failed', { error: (e as Error).message });
      try {
        this.coordinator?.validate(commits);
        // seek is synchronous in kafkajs: the commit completes behind it.
        member.commit(commits).then(() => {
          if (ps.position === o) ps.committed = o;
        }, failed);
      } catch (e) {
        failed(e);
      }
    }
  }

  private isPaused(topic: string, partition: number): boolean {
    return this.subscriptions.isPaused(topic, partition);
  }

  /**
   * kafkajs' pause: a topic not subscribed is a no-op. Beyond kafkajs, an
   * explicit partition that is not assigned to this consumer is an error
   * rather than a silent no-op.
   */
  pause(topics: { topic: string; partitions?: number[] }[]): void {
    if (!Array.isArray(topics))
      throw new KafkaJSNonRetriableError('pause needs an array of { topic, partitions }');
    for (const tp of topics) {
      if (!tp || typeof tp.topic !== 'string' || tp.topic.length === 0) {
        throw new KafkaJSNonRetriableError(`Invalid topic ${String(tp?.topic ?? tp)}`);
      }
      if (
        tp.partitions !== undefined &&
        (!Array.isArray(tp.partitions) || tp.partitions.some((p) => !Number.isInteger(p)))
      ) {
        throw new KafkaJSNonRetriableError(
          `Array of valid partitions required to pause specific partitions instead of ${String(tp.partitions)}`,
        );
      }
    }
    if (this.state !== 'running') {
      throw new KafkaJSNonRetriableError(
        'Consumer group was not initialized, consumer#run must be called first',
      );
    }
    this.kjsLog.paused(topics);
    const subscribed = new Set(this.subscribedTopics());
    const relevant = topics.filter((tp) => subscribed.has(tp.topic));
    for (const { topic, partitions } of relevant) {
      for (const p of partitions ?? []) {
        if (!this.partitions.has(key(topic, p))) {
          throw new KafkaJSNonRetriableError(
            `Pausing partition ${topic}-${p}, which is not assigned to this consumer`,
          );
        }
      }
    }
    for (const { topic, partitions } of relevant) {
      this.subscriptions.pause(topic, partitions);
      for (const ps of this.partitions.values())
        if (ps.topic === topic && this.isPaused(topic, ps.partition)) ps.paused = true;
    }
  }

  resume(topics: { topic: string; partitions?: number[] }[]): void {
    if (this.state === 'running' && Array.isArray(topics)) this.kjsLog.resumed(topics);
    for (const { topic, partitions } of topics) {
      this.subscriptions.resume(topic, partitions, Math.max(0, this.log?.partitionCount(topic) ?? 0));
      for (const ps of this.partitions.values()) {
        if (ps.topic === topic && ps.paused && !this.isPaused(topic, ps.partition)) {
          ps.paused = false;
          ps.wake.fire();
        }
      }
    }
  }

  paused(): { topic: string; partitions: number[] }[] {
    return this.subscriptions.paused((topic) => Math.max(0, this.log?.partitionCount(topic) ?? 0));
  }

  async describeGroup(): Promise<GroupDescription & { errorCode: number }> {
    if (this.coordinator === null) throw new KafkaJSNonRetriableError('The consumer is not connected');
    const d = await this.coordinator.describe(this.groupId);
    return {
      errorCode: 0,
      groupId: d.groupId,
      protocol: d.protocol,
      protocolType: d.protocolType || 'consumer',
      state: d.state,
      members: d.members.map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: m.memberMetadata,
        memberAssignment: m.memberAssignment,
      })),
    };
  }

  /** Stops consuming: finishes the messages in hand, commits, leaves the group. */
  private async halt(commit: boolean): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.kjsLog.stopping(this.groupId, this.memberId);
    if (this.topicListener) topicEvents.off('created', this.topicListener);
    this.topicListener = null;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.autoCommitTimer) clearInterval(this.autoCommitTimer);
    this.heartbeatTimer = null;
    this.autoCommitTimer = null;
    const states = [...this.partitions.values()];
    for (const ps of states) this.stopPartition(ps);
    await Promise.all(states.map((s) => s.done));
    this.kjsLog.notRunning(this.groupId, this.memberId);
    if (commit && this.runConfig.autoCommit) {
      await this.commitResolved(states).catch((e: Error) =>
        this.log_.warn('final commit failed', { error: e.message }),
      );
    }
    this.partitions.clear();
    const member = this.member;
    this.member = null;
    if (member !== null) {
      await member.leave();
      this.coordinator?.forget(member);
    }
    this.state = 'connected';
  }

  async stop(): Promise<void> {
    await this.halt(true);
    this.emit(EVENTS.STOP, null);
    this.kjsLog.stopped(this.groupId);
  }

  async disconnect(): Promise<void> {
    if (this.state === 'disconnected') return;
    await this.halt(true);
    this.emit(EVENTS.STOP, null);
    this.kjsLog.stopped(this.groupId);
    this.kjsLog.disconnecting(this.groupId);
    const coordinator = this.coordinator;
    const log = this.log;
    this.coordinator = null;
    this.log = null;
    this.state = 'disconnected';
    await log?.close();
    await coordinator?.release();
    this.emit(EVENTS.DISCONNECT, null);
  }

  /**
   * Messages as an async iterator, with backpressure: the next message is
   * read when the loop asks for it, and a message counts as processed (and
   * may be committed) once the loop moves past it.
   *
   *   for await (const { topic, partition, message } of consumer.messages()) { ... }
   */
  messages(): AsyncIterableIterator<{ topic: string; partition: number; message: KafkaMessage<K, V> }> {
    return messageIterator<K, V>({
      run: (config) => this.run(config),
      stop: () => this.stop(),
      running: () => this.state === 'running',
    });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<{
    topic: string;
    partition: number;
    message: KafkaMessage<K, V>;
  }> {
    return this.messages();
  }
}

/**
 * A seek offset: an integer as a number or a decimal string (kafkajs takes a
 * Long). Each way it can be wrong gets its own message.
 */
function parseOffset(offset: string | number): number {
  const integral = typeof offset === 'number' ? Number.isInteger(offset) : /^\s*-?\d+\s*$/.test(offset);
  if (!integral) {
    throw new KafkaJSNonRetriableError(`Invalid offset, expected an integer received ${String(offset)}`);
  }
  const o = Number(offset);
  if (!Number.isSafeInteger(o) && o > 0) {
    throw new KafkaJSNonRetriableError(
      `Offset ${String(offset)} is too large: offsets go up to ${Number.MAX_SAFE_INTEGER} (2^53-1)`,
    );
  }
  return o;
}

function flatten(o: OffsetsByTopicPartition): TopicPartitionOffsetAndMetadata[] {
  return o.topics.flatMap((t) =>
    t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })),
  );
}

function groupByTopic(commits: { topic: string; partition: number; offset: string }[]): {
  topic: string;
  partitions: { partition: string; offset: string }[];
}[] {
  const m = new Map<string, { partition: string; offset: string }[]>();
  for (const c of commits) {
    const list = m.get(c.topic) ?? [];
    list.push({ partition: String(c.partition), offset: c.offset });
    m.set(c.topic, list);
  }
  return [...m.entries()].map(([topic, partitions]) => ({ topic, partitions }));
}

export { KafkaJSRebalanceError };
