/**
 * The kafkajs-compatible consumer, over either transport (ts/transport:
 * the local engine and coordinator, or a Kafka cluster).
 *
 * This class is the public API and its lifecycle: connect, subscribe, run,
 * stop, disconnect, pause/resume, seek, commits, events, and the crash path
 * (`restartOnFailure`). The work is split by job: `runner.ts` (fetch
 * rounds, handlers, retries), `offsets.ts` (resolved and committed offsets,
 * the commit policy), `membership.ts` (the group membership: assignment,
 * revocation, heartbeats, liveness), `subscriptions.ts` (what is subscribed
 * and paused), `batch.ts`, `iterator.ts`, `types.ts` (the public types),
 * and the group client in ts/group.
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
import type { Logger } from '../client/logger';
import type { RetryOptions } from '../client/retry';
import { KafkaJSNonRetriableError } from '../errors';
import { type Assigner, roundRobin } from '../group/assigners';
import { KafkaJSRebalanceError } from '../group/errors';
import { checkCommit, kafkajsGroup, nativeOffset } from '../group/member';
import type { ConsumerTransport } from '../transport/types';
import {
  type ConsumerEventMap,
  type ConsumerEvents,
  checkEventName,
  CONSUMER_EVENTS as EVENTS,
  type RemoveInstrumentationEventListener,
} from '../types/events';
import type { GroupDescription, PartitionAssigner as KafkaJSPartitionAssigner } from '../types/kafkajs';
import { messageIterator } from './iterator';
import { ConsumerLogs } from './kafkajs-log';
import { Membership } from './membership';
import { OffsetTracker } from './offsets';
import { Runner } from './runner';
import { Subscriptions } from './subscriptions';
import type {
  ConsumerConfig,
  ConsumerRunConfig,
  ConsumerSubscribeTopics,
  KafkaMessage,
  OffsetsByTopicPartition,
  TopicPartitionOffsetAndMetadata,
} from './types';

export type { ConsumerEvents } from '../types/events';
export type * from './types';

/**
 * What a consumer needs from its `Kafka`: a small context, not the client
 * (so that nothing here imports `Kafka`, and the transport is chosen there).
 */
export interface ConsumerContext {
  readonly clientId: string;
  /** The client's root logger (the consumer logs under its namespace). */
  readonly logger: Logger;
  readonly retry: RetryOptions | undefined;
  /** Partitions of topics the consumer creates (allowAutoTopicCreation). */
  readonly defaultNumPartitions: number;
  readonly transport: ConsumerTransport;
}

export class Consumer<K = Buffer | null, V = Buffer | null> {
  readonly events: ConsumerEvents = EVENTS;
  readonly groupId: string;
  private readonly context: ConsumerContext;
  private readonly transport: ConsumerTransport;
  private readonly log: Logger;
  private readonly emitter = new EventEmitter();
  private readonly config: ConsumerConfig<K, V>;
  private readonly sessionTimeout: number;
  private readonly rebalanceTimeout: number;
  private readonly heartbeatInterval: number;
  private readonly retry: RetryOptions;
  private readonly assignerFactories: KafkaJSPartitionAssigner[];
  private assignerInstances: Assigner[] = [];

  private state: 'disconnected' | 'connected' | 'running' | 'stopping' = 'disconnected';
  private readonly subscriptions = new Subscriptions();
  /** Seeks made before their partition was assigned (kafkajs applies them on assignment). */
  private readonly pendingSeeks = new Map<string, number>();
  private runConfig: ConsumerRunConfig<K, V> = {};
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private topicListener: (() => void) | null = null;
  /** kafkajs' log lines. */
  private readonly kjsLog: ConsumerLogs;
  private readonly offsets: OffsetTracker;
  private readonly runner: Runner<K, V>;
  private readonly membership: Membership<K, V>;

  constructor(context: ConsumerContext, config: ConsumerConfig<K, V>) {
    if (
      config === null ||
      typeof config !== 'object' ||
      typeof config.groupId !== 'string' ||
      config.groupId.length === 0
    ) {
      throw new KafkaJSNonRetriableError('Consumer groupId must be a non-empty string');
    }
    this.context = context;
    this.transport = context.transport;
    this.config = config;
    this.groupId = config.groupId;
    this.log = context.logger.namespace('Consumer');
    this.kjsLog = new ConsumerLogs(context.logger);
    this.sessionTimeout = config.sessionTimeout ?? 30_000;
    this.rebalanceTimeout = config.rebalanceTimeout ?? 60_000;
    this.heartbeatInterval = config.heartbeatInterval ?? 3_000;
    const maxBytesPerPartition = config.maxBytesPerPartition ?? 1024 * 1024;
    const maxWaitTimeInMs = config.maxWaitTimeInMs ?? 5_000;
    this.retry = config.retry ?? context.retry ?? {};
    this.assignerFactories = config.partitionAssigners ?? [roundRobin];
    for (const [name, v] of [
      ['sessionTimeout', this.sessionTimeout],
      ['rebalanceTimeout', this.rebalanceTimeout],
      ['heartbeatInterval', this.heartbeatInterval],
      ['maxBytesPerPartition', maxBytesPerPartition],
      ['maxWaitTimeInMs', maxWaitTimeInMs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0)
        throw new KafkaJSNonRetriableError(`${name} must be a non-negative integer`);
    }
    if (this.assignerFactories.length === 0)
      throw new KafkaJSNonRetriableError('partitionAssigners must not be empty');
    this.offsets = new OffsetTracker({
      transport: this.transport,
      logger: this.log,
      committer: () => this.membership.committer(),
      owned: () => this.runner.partitions.values(),
      committed: (commits) => this.emitCommit(commits),
    });
    this.runner = new Runner<K, V>({
      transport: this.transport,
      logger: this.log,
      offsets: this.offsets,
      retry: this.retry,
      fetchConfig: {
        maxBytesPerPartition,
        maxWaitTimeInMs,
        minBytes: config.minBytes ?? 1,
        maxBytes: config.maxBytes ?? 10 * 1024 * 1024,
        readUncommitted: config.readUncommitted === true,
      },
      deserializers: config.deserializers,
      running: () => this.state === 'running',
      fromBeginningFor: (topic) => this.subscriptions.fromBeginningFor(topic),
      emit: (type, payload) => this.emit(type, payload),
      heartbeat: () => this.membership.sendHeartbeat(),
      pause: (topics) => this.pause(topics),
      resume: (topics) => this.resume(topics),
      commitOffsets: (offsets) => this.commitOffsets(offsets),
      crash: (error, retriesExhausted) => this.scheduleCrash(error, retriesExhausted),
    });
    this.membership = new Membership<K, V>({
      groupId: this.groupId,
      clientId: context.clientId,
      sessionTimeout: this.sessionTimeout,
      rebalanceTimeout: this.rebalanceTimeout,
      heartbeatInterval: this.heartbeatInterval,
      transport: this.transport,
      logger: this.log,
      kjsLog: this.kjsLog,
      runner: this.runner,
      offsets: this.offsets,
      subscriptions: this.subscriptions,
      pendingSeeks: this.pendingSeeks,
      running: () => this.state === 'running',
      subscribedTopics: () => this.subscribedTopics(),
      assigners: () => this.assignerInstances,
      autoCommit: () => this.runConfig.autoCommit === true,
      concurrency: () => this.runConfig.partitionsConsumedConcurrently ?? 1,
      emit: (type, payload) => this.emit(type, payload),
      crash: (error) => this.scheduleCrash(error),
    });
  }

  logger(): Logger {
    return this.log;
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
      this.log.error('an instrumentation event listener threw', {
        event: type,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  async connect(): Promise<void> {
    if (this.state !== 'disconnected') return;
    await this.transport.connect(this.retry);
    // kafkajs hands assigners the cluster, the group id and the root logger.
    const cluster = this.transport.assignerCluster();
    this.assignerInstances = this.assignerFactories.map((f) =>
      f({ cluster, groupId: this.groupId, logger: this.context.logger }),
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
    }
    const names = list.filter((t): t is string => typeof t === 'string');
    const patterns = list.filter((t): t is RegExp => t instanceof RegExp);
    await this.transport.refreshMetadata(patterns.length > 0 ? null : names);
    for (const t of list) {
      if (typeof t === 'string' && this.transport.partitionCount(t) === -1) {
        if (this.config.allowAutoTopicCreation === false) {
          throw new KafkaJSNonRetriableError(
            `topic "${t}" does not exist and allowAutoTopicCreation is false`,
          );
        }
        await this.transport.createTopic(t, this.context.defaultNumPartitions);
      }
      this.subscriptions.add(t, fromBeginning);
      if (t instanceof RegExp) {
        const matched = this.transport.topicNames().filter((n) => t.test(n));
        this.kjsLog.subscribedRegExp(this.groupId, t, matched);
      }
    }
  }

  private subscribedTopics(): string[] {
    if (this.state === 'disconnected') return [];
    return this.subscriptions.topics(this.transport.topicNames());
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
    this.state = 'running';
    if (this.subscriptions.hasRegExp()) {
      const rebalance = () =>
        void this.membership.member
          ?.rebalance()
          .catch((e: Error) => this.log.error('rebalance failed', { error: e.message }));
      const stopListening = this.transport.onTopicCreated((topic) => {
        if (this.state === 'running' && this.subscriptions.regExpMatches(topic)) rebalance();
      });
      // A remote cluster announces no new topics: its metadata is looked at
      // every metadataMaxAge (kafkajs' default 5 minutes), and a change in
      // the matching topics rejoins.
      const every = this.config.metadataMaxAge ?? 300_000;
      const timer =
        this.transport.kind === 'remote' && every > 0
          ? setInterval(() => {
              const before = this.subscribedTopics().join('\u0000');
              this.transport.refreshMetadata(null).then(
                () => {
                  if (this.state === 'running' && this.subscribedTopics().join('\u0000') !== before)
                    rebalance();
                },
                (e: Error) => this.log.warn('metadata refresh failed', { error: e.message }),
              );
            }, every)
          : null;
      timer?.unref();
      this.topicListener = () => {
        stopListening();
        if (timer !== null) clearInterval(timer);
      };
    }
    this.offsets.start({
      autoCommit: this.runConfig.autoCommit ?? true,
      autoCommitInterval: this.runConfig.autoCommitInterval ?? null,
      autoCommitThreshold: this.runConfig.autoCommitThreshold ?? null,
    });
    // Liveness and progress are separate, as with the Java client's
    // heartbeat thread: the session is kept alive on this timer's schedule,
    // however long the handlers keep the member busy, and a handler that
    // makes no progress (returns or calls heartbeat()) within
    // rebalanceTimeout gets the member out of the group, as
    // max.poll.interval.ms does, so its partitions move on.
    this.heartbeatTimer = setInterval(() => this.membership.tick(), Math.max(1, this.heartbeatInterval));
    this.heartbeatTimer.unref();
    this.kjsLog.starting(this.groupId);
    this.runner.start(this.runConfig);
    await this.membership.join();
  }

  private crashing = false;

  /** Crashes outside the partition loop that failed, since halting waits for every loop. */
  private scheduleCrash(error: Error, retriesExhausted = false): void {
    setImmediate(() => {
      void this.crash(error, retriesExhausted);
    });
  }

  /**
   * Nothing awaits a crash (it starts from a timer), so it must not reject:
   * whatever goes wrong in it, including the restart's join, is logged.
   */
  private async crash(error: Error, retriesExhausted: boolean): Promise<void> {
    if (this.crashing) return;
    this.crashing = true;
    try {
      await this.crashAndRestart(error, retriesExhausted);
    } catch (e) {
      if (this.state === 'running' || this.state === 'connected') {
        this.log.error('restart after a crash failed', { error: (e as Error).message });
      }
    } finally {
      this.crashing = false;
    }
  }

  /**
   * kafkajs' crash: the consumer restarts only when trying again can help
   * (retries ran out, or the error says it is retriable) and
   * `restartOnFailure` agrees. An error that says it is not retriable
   * (a corrupt batch on disk, an unrecoverable bug such as a TypeError)
   * stops the consumer with `restart: false`: restarting would fail on the
   * same offset forever, redelivering everything before it each time.
   */
  private async crashAndRestart(error: Error, retriesExhausted: boolean): Promise<void> {
    let restart = false;
    if (
      retriesExhausted ||
      error.name === 'KafkaJSNumberOfRetriesExceeded' ||
      originalCause(error).retriable === true
    ) {
      const restartOnFailure = this.retry.restartOnFailure ?? (async () => true);
      try {
        restart = await restartOnFailure(error);
      } catch (e) {
        // As kafkajs does.
        this.log.error('restartOnFailure threw; restarting', { error: (e as Error)?.message ?? String(e) });
        restart = true;
      }
    }
    this.emit(EVENTS.CRASH, { error, groupId: this.groupId, restart });
    this.log.error('consumer crashed', { error: error.message, restart });
    // What the handlers finished since the last commit is committed
    // (kafkajs commits it when a handler fails): a restart, or the group's
    // next member, goes on from there. The failed message was not finished
    // and is redelivered.
    await this.halt('progress');
    if (restart && this.state === 'connected') {
      await new Promise((r) => setTimeout(r, this.retry.initialRetryTime ?? 300));
      if (this.state === 'connected') await this.run(this.runConfig);
    }
  }

  private uncommitted(): OffsetsByTopicPartition {
    return this.offsets.uncommitted();
  }

  private emitCommit(commits: { topic: string; partition: number; offset: number }[]): void {
    this.emit(EVENTS.COMMIT_OFFSETS, {
      groupId: this.groupId,
      memberId: this.membership.memberId,
      groupGenerationId: this.membership.generationId,
      topics: groupByTopic(commits.map((c) => ({ ...c, offset: String(c.offset) }))),
    });
  }

  /** kafkajs' commitOffsets: offsets are the next offsets to read, as strings. */
  async commitOffsets(offsets: TopicPartitionOffsetAndMetadata[]): Promise<void> {
    if (this.state === 'disconnected') throw new KafkaJSNonRetriableError('The consumer is not connected');
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
    this.transport.validateCommits(commits);
    const member = this.membership.member;
    if (this.state === 'running' && !this.membership.evicted && member !== null && member.active) {
      await member.commit(commits);
    } else {
      // Outside group management (generation -1): only to a group without members.
      const r = await this.transport.groups.commit({
        groupId: this.groupId,
        generationId: -1,
        memberId: '',
        offsets: commits.map(nativeOffset),
      });
      checkCommit(r, this.groupId);
    }
    this.offsets.noteCommitted(commits, (t, p) => this.runner.get(t, p));
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
    const ps = this.runner.get(topic, partition);
    if (ps === undefined) {
      this.pendingSeeks.set(`${topic}\u0000${partition}`, o);
      return;
    }
    this.runner.seek(ps, o);
    const member = this.membership.member;
    if (this.runConfig.autoCommit && member !== null) {
      const commits = [{ topic, partition, offset: o }];
      const failed = (e: unknown) =>
        this.log.warn('commit of the seek failed', { error: (e as Error).message });
      try {
        this.transport.validateCommits(commits);
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
        if (this.runner.get(topic, p) === undefined) {
          throw new KafkaJSNonRetriableError(
            `Pausing partition ${topic}-${p}, which is not assigned to this consumer`,
          );
        }
      }
    }
    for (const { topic, partitions } of relevant) {
      this.subscriptions.pause(topic, partitions);
      for (const ps of this.runner.partitions.values())
        if (ps.topic === topic && this.isPaused(topic, ps.partition)) ps.paused = true;
    }
  }

  resume(topics: { topic: string; partitions?: number[] }[]): void {
    if (this.state === 'running' && Array.isArray(topics)) this.kjsLog.resumed(topics);
    for (const { topic, partitions } of topics) {
      this.subscriptions.resume(topic, partitions, Math.max(0, this.transport.partitionCount(topic)));
      for (const ps of this.runner.partitions.values()) {
        if (ps.topic === topic && ps.paused && !this.isPaused(topic, ps.partition)) {
          ps.paused = false;
          this.runner.wake();
        }
      }
    }
  }

  paused(): { topic: string; partitions: number[] }[] {
    return this.subscriptions.paused((topic) => Math.max(0, this.transport.partitionCount(topic)));
  }

  async describeGroup(): Promise<GroupDescription & { errorCode: number }> {
    if (this.state === 'disconnected') throw new KafkaJSNonRetriableError('The consumer is not connected');
    const [d] = await this.transport.groups.describe([this.groupId]);
    if (d === undefined) throw new KafkaJSNonRetriableError(`no description of group "${this.groupId}"`);
    return kafkajsGroup(d);
  }

  /**
   * Stops consuming: finishes the messages in hand, commits, leaves the
   * group. `commit`: 'resolved'
   * commits every partition's resolved offset (a stop), 'progress' only
   * those of partitions whose handlers finished messages since the last
   * commit (a crash: a partition that delivered nothing keeps its offset).
   */
  private async halt(commit: 'resolved' | 'progress'): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.kjsLog.stopping(this.groupId, this.membership.memberId);
    this.topicListener?.();
    this.topicListener = null;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.offsets.stop();
    const states = [...this.runner.partitions.values()];
    for (const ps of states) this.runner.stopPartition(ps);
    this.runner.end();
    await Promise.all(states.map((s) => s.done));
    // A batch's commit may still be on its way: it lands before the member leaves.
    await this.offsets.settled();
    this.kjsLog.notRunning(this.groupId, this.membership.memberId);
    if (this.runConfig.autoCommit) {
      await this.offsets
        .commitResolved(commit === 'resolved' ? states : states.filter((ps) => ps.uncommittedCount > 0))
        .catch((e: Error) => this.log.warn('final commit failed', { error: e.message }));
    }
    this.runner.partitions.clear();
    await this.membership.leave();
    this.state = 'connected';
  }

  async stop(): Promise<void> {
    await this.halt('resolved');
    this.emit(EVENTS.STOP, null);
    this.kjsLog.stopped(this.groupId);
  }

  async disconnect(): Promise<void> {
    if (this.state === 'disconnected') return;
    await this.halt('resolved');
    this.emit(EVENTS.STOP, null);
    this.kjsLog.stopped(this.groupId);
    this.kjsLog.disconnecting(this.groupId);
    this.state = 'disconnected';
    await this.transport.close();
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

/** The error at the end of an error's `cause` chain (kafkajs' getOriginalCause). */
function originalCause(error: Error): { retriable?: unknown } {
  let e: unknown = error;
  for (let depth = 0; depth < 16; depth++) {
    const cause = (e as { cause?: unknown } | null)?.cause;
    if (cause === undefined || cause === null) break;
    e = cause;
  }
  return (e ?? {}) as { retriable?: unknown };
}
