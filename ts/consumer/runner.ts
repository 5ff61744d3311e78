/**
 * The runner: fetch rounds over the transport and the handlers.
 *
 * A round is one fetch for every assigned partition that is neither paused
 * nor stopped (Kafka's Fetch; locally, reads of the mapped segments, or the
 * engine's long-poll when none has data). Each partition's records are
 * decoded into columns once and handed to `eachMessage` or `eachBatch`;
 * partitions run concurrently up to `partitionsConsumedConcurrently`, and a
 * partition appears once per round, so its order is kept. A handler that
 * fails is retried per `retry` (client/retry.ts); then the consumer crashes
 * (the host decides, through `restartOnFailure`, whether it rejoins).
 */
import type { Logger } from '../client/logger';
import { RETRY_DEFAULTS, type RetryOptions, withRetry } from '../client/retry';
import { decodeColumns, type RecordColumns } from '../codec';
// From the module itself: the index re-exports through a getter, which the
// eachMessage loop would call once per message.
import { DecodedMessage } from '../codec/decoder';
import { KafkaJSError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } from '../errors';
import { KafkaErrorCode } from '../kafka-codes';
import type { ConsumerTransport, FetchPartition } from '../transport/types';
import { CONSUMER_EVENTS as EVENTS } from '../types/events';
import { batchEventInfo, makeBatch } from './batch';
import type { Deserializer } from './deserializers';
import { ConsumedMessage } from './message';
import type { OffsetTracker, PartitionOffsets } from './offsets';
import type {
  ConsumerRunConfig,
  EachMessagePayload,
  KafkaMessage,
  OffsetsByTopicPartition,
  TopicPartitionOffsetAndMetadata,
} from './types';

/** A wake-up that any number of waiters can wait on. */
export class Signal {
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

export interface PartitionState extends PartitionOffsets {
  /** The next offset to read; -1 until reset from the log's start or end. */
  position: number;
  stopped: boolean;
  paused: boolean;
  /** Bumped by seek and revocation: batches fetched before are stale. */
  epoch: number;
  /** Handlers running for this partition now. */
  busy: number;
  /**
   * Bumped when a handler returns or calls heartbeat(). The heartbeat timer
   * evicts the member when a handler runs and this has not moved for longer
   * than rebalanceTimeout (Kafka's max.poll.interval.ms). A counter rather
   * than a clock reading per message: the per-message path stays cheap.
   */
  progress: number;
  /** What the heartbeat timer last saw of `progress`, and since when. */
  watchedProgress: number;
  watchedSince: number;
  /** Settles when the batch in hand is done (never rejects). */
  done: Promise<void>;
}

/** A partition's fetched bytes, decoded when its handler's turn comes. */
interface Fetched {
  ps: PartitionState;
  batches: Buffer;
  /** The position the fetch asked for: records before it are left out. */
  offset: number;
  highWatermark: number;
  epoch: number;
}

export const partitionStateKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** What the runner needs from its consumer. */
export interface RunnerHost<K, V> {
  readonly transport: ConsumerTransport;
  readonly logger: Logger;
  readonly offsets: OffsetTracker;
  readonly retry: RetryOptions;
  readonly fetchConfig: {
    maxBytesPerPartition: number;
    maxWaitTimeInMs: number;
    minBytes: number;
    maxBytes: number;
    readUncommitted: boolean;
  };
  readonly deserializers: { key?: Deserializer<K>; value?: Deserializer<V> } | undefined;
  running(): boolean;
  fromBeginningFor(topic: string): boolean;
  emit(type: string, payload: unknown): void;
  /** A heartbeat between batches, at most once per heartbeatInterval. */
  heartbeat(): void;
  pause(topics: { topic: string; partitions?: number[] }[]): void;
  resume(topics: { topic: string; partitions?: number[] }[]): void;
  commitOffsets(offsets: TopicPartitionOffsetAndMetadata[]): Promise<void>;
  /**
   * Crashes the consumer (from a timer: the crash waits for every
   * partition). `retriesExhausted`: the error was retried until `retry`
   * ran out, so a restart may help (kafkajs' KafkaJSNumberOfRetriesExceeded).
   */
  crash(error: Error, retriesExhausted?: boolean): void;
}

export class Runner<K, V> {
  readonly partitions = new Map<string, PartitionState>();
  private readonly host: RunnerHost<K, V>;
  private config: ConsumerRunConfig<K, V> = {};
  private slotsFree = 1;
  private readonly slotWaiters: (() => void)[] = [];
  /** Handlers running now (a rejoin after an eviction waits for them). */
  handlersRunning = 0;
  private readonly signal = new Signal();
  private abort: AbortController | null = null;
  /** Bumped per run: a loop of an earlier run ends at its next step. */
  private token = 0;
  private turn = 0;

  constructor(host: RunnerHost<K, V>) {
    this.host = host;
  }

  /** Starts fetch rounds with `config` (validated by the consumer). */
  start(config: ConsumerRunConfig<K, V>): void {
    this.config = config;
    this.slotsFree = config.partitionsConsumedConcurrently ?? 1;
    const token = ++this.token;
    void this.loop(token);
  }

  /** Ends the fetch rounds (partitions are stopped by the caller). */
  end(): void {
    this.token++;
    this.wake();
  }

  /** Something changed (assignment, seek, resume, stop): a waiting fetch returns now. */
  wake(): void {
    this.abort?.abort();
    this.signal.fire();
  }

  /** Adds a partition from `position` (-1: reset per fromBeginning). */
  add(topic: string, partition: number, position: number, committed: number, paused: boolean): void {
    const ps: PartitionState = {
      topic,
      partition,
      position,
      resolved: position,
      committed,
      uncommittedCount: 0,
      stopped: false,
      paused,
      epoch: 0,
      busy: 0,
      progress: 0,
      // Nothing watched yet: the timer's first look starts the clock.
      watchedProgress: -1,
      watchedSince: 0,
      done: Promise.resolve(),
    };
    this.partitions.set(partitionStateKey(topic, partition), ps);
    this.wake();
  }

  get(topic: string, partition: number): PartitionState | undefined {
    return this.partitions.get(partitionStateKey(topic, partition));
  }

  /**
   * Stops a partition (revocation, stop, eviction). Unlike a seek, this
   * does not make the message in hand stale: once its handler succeeds it
   * counts as processed, so it is committed, not redelivered.
   */
  stopPartition(ps: PartitionState): void {
    ps.stopped = true;
    this.wake();
  }

  /** Moves a partition's position; batches in flight for it become stale. */
  seek(ps: PartitionState, offset: number): void {
    ps.position = offset;
    ps.resolved = offset;
    ps.epoch++;
    this.wake();
  }

  /** The partition whose handler has made no progress for longer than `timeoutMs`. */
  stalled(now: number, timeoutMs: number): PartitionState | undefined {
    for (const ps of this.partitions.values()) {
      if (ps.busy === 0 || ps.progress !== ps.watchedProgress) {
        ps.watchedProgress = ps.progress;
        ps.watchedSince = now;
      } else if (now - ps.watchedSince > timeoutMs) {
        return ps;
      }
    }
    return undefined;
  }

  private async loop(token: number): Promise<void> {
    // A retriable failure of the transport (a connection lost, a leader
    // moving) is retried with backoff per `retry`; only then, or at once for
    // any other error, the consumer crashes.
    const retries = this.host.retry.retries ?? RETRY_DEFAULTS.retries;
    let failures = 0;
    let backoff = this.host.retry.initialRetryTime ?? RETRY_DEFAULTS.initialRetryTime;
    while (token === this.token && this.host.running()) {
      try {
        // A local fetch with data at hand settles without I/O, and the
        // commit after a batch no longer holds the loop: without this turn
        // of the event loop a backlog would be consumed in one unbroken run
        // of microtasks, starving the heartbeat timer and the application's
        // own I/O and timers. One turn per round that handed records over;
        // none after one that did not (an assignment or a seek just woke
        // it, and its next round resets positions at once).
        if (await this.round(token)) await new Promise<void>((r) => setImmediate(r));
        failures = 0;
        backoff = this.host.retry.initialRetryTime ?? RETRY_DEFAULTS.initialRetryTime;
      } catch (e) {
        if (token !== this.token || !this.host.running()) return;
        if (e instanceof KafkaJSError && e.retriable && failures < retries) {
          failures++;
          this.host.logger.warn('fetch failed; retrying', { error: e.message, attempt: failures });
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(
            backoff * (this.host.retry.multiplier ?? RETRY_DEFAULTS.multiplier),
            this.host.retry.maxRetryTime ?? RETRY_DEFAULTS.maxRetryTime,
          );
          continue;
        }
        this.end();
        this.host.crash(e instanceof Error ? e : new KafkaJSError(String(e)));
        return;
      }
    }
  }

  /** Positions of partitions that start without one: the log's start or end. */
  private async reset(states: PartitionState[], logStart?: Map<PartitionState, number>): Promise<void> {
    if (states.length === 0) return;
    const wanted = states.map((ps) => {
      const below =
        logStart?.has(ps) === true && ps.position >= 0 && ps.position < (logStart.get(ps) as number);
      return {
        ps,
        epoch: ps.epoch,
        timestamp: (this.host.fromBeginningFor(ps.topic) || below ? -2 : -1) as -1 | -2,
      };
    });
    const r = await this.host.transport.listOffsets(
      wanted.map((w) => ({ topic: w.ps.topic, partition: w.ps.partition, timestamp: w.timestamp })),
    );
    for (const w of wanted) {
      const o = r.find((x) => x.topic === w.ps.topic && x.partition === w.ps.partition);
      // A seek meanwhile wins.
      if (o === undefined || w.ps.epoch !== w.epoch) continue;
      w.ps.position = o.offset;
      w.ps.resolved = o.offset;
    }
  }

  /** One fetch round; true when it fetched bytes for the handlers (control records only count too). */
  private async round(token: number): Promise<boolean> {
    const host = this.host;
    const states = [...this.partitions.values()];
    await this.reset(states.filter((ps) => !ps.stopped && ps.position < 0));
    if (token !== this.token) return false;
    const ready = [...this.partitions.values()].filter((ps) => !ps.stopped && !ps.paused && ps.position >= 0);
    if (ready.length === 0) {
      await this.signal.wait();
      return false;
    }
    // Kafka returns a batch larger than the partition limit only to the
    // first partition of a fetch: rotating the order lets each be first.
    const turn = this.turn++ % ready.length;
    const order = [...ready.slice(turn), ...ready.slice(0, turn)];
    const asked = new Map<string, { ps: PartitionState; epoch: number; offset: number }>();
    const request: FetchPartition[] = [];
    const cfg = host.fetchConfig;
    for (const ps of order) {
      asked.set(partitionStateKey(ps.topic, ps.partition), { ps, epoch: ps.epoch, offset: ps.position });
      request.push({
        topic: ps.topic,
        partition: ps.partition,
        offset: ps.position,
        maxBytes: cfg.maxBytesPerPartition,
      });
    }
    const abort = new AbortController();
    this.abort = abort;
    host.emit(EVENTS.FETCH_START, {});
    const started = Date.now();
    let results: Awaited<ReturnType<ConsumerTransport['fetch']>>;
    try {
      results = await host.transport.fetch(request, {
        maxWaitMs: cfg.maxWaitTimeInMs,
        minBytes: cfg.minBytes,
        maxBytes: cfg.maxBytes,
        readUncommitted: cfg.readUncommitted,
        signal: abort.signal,
      });
    } finally {
      if (this.abort === abort) this.abort = null;
    }
    if (token !== this.token || !host.running()) return false;
    host.emit(EVENTS.FETCH, { numberOfBatches: results.length, duration: Date.now() - started });
    const work: Fetched[] = [];
    const outOfRange: PartitionState[] = [];
    const logStart = new Map<PartitionState, number>();
    let failed = 0;
    for (const r of results) {
      const q = asked.get(partitionStateKey(r.topic, r.partition));
      if (q === undefined) continue;
      const ps = q.ps;
      // Stopped, sought or paused since the fetch was sent: its records are
      // dropped (a paused partition reads them again when resumed).
      if (
        ps.stopped ||
        ps.paused ||
        ps.epoch !== q.epoch ||
        this.partitions.get(partitionStateKey(ps.topic, ps.partition)) !== ps
      )
        continue;
      if (r.errorCode === KafkaErrorCode.OFFSET_OUT_OF_RANGE) {
        // Retention overtook us, or a seek went past the end: reset as Kafka's auto.offset.reset.
        outOfRange.push(ps);
        logStart.set(ps, r.logStartOffset);
        continue;
      }
      if (r.errorCode !== 0) {
        // A leader moved and the like: the next round asks again.
        failed++;
        continue;
      }
      if (r.batches.byteLength === 0) continue;
      work.push({ ps, batches: r.batches, offset: q.offset, highWatermark: r.highWatermark, epoch: q.epoch });
    }
    await this.reset(outOfRange, logStart);
    if (work.length === 0) {
      host.heartbeat();
      if (failed > 0) await new Promise((r) => setTimeout(r, 100));
      return false;
    }
    // Every partition's turn ends before the round does, even when one fails
    // (its batch does not decode, say): the next round must not fetch a
    // partition whose handler is still running. Then the first failure.
    const settled = await Promise.allSettled(work.map((w) => this.dispatch(w)));
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    return true;
  }

  private dispatch(w: Fetched): Promise<void> {
    const { ps, epoch } = w;
    const run = (async () => {
      await this.acquireSlot();
      try {
        if (ps.stopped || ps.epoch !== epoch || !this.host.running()) return;
        // Decoded when the partition's turn comes, not with the whole fetch:
        // the first handler starts once its own records are decoded (a fetch
        // of 8 partitions decoded all of them first), and only the
        // partitions in hand hold decoded or inflated records. Batch by
        // batch past the budget: decompressed bytes held at once per
        // partition stay near maxBytesPerPartition (at least one batch).
        const records = decodeColumns(w.batches, w.offset, this.host.fetchConfig.maxBytesPerPartition);
        if (records.length === 0) {
          // Only control records or offsets below the position: skip past them.
          if (records.nextOffset > ps.position) ps.position = records.nextOffset;
          return;
        }
        await this.process(ps, records, w.highWatermark, epoch);
      } finally {
        this.releaseSlot();
      }
    })();
    ps.done = run.catch(() => undefined);
    return run;
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

  /** @internal */
  hostOf(): RunnerHost<K, V> {
    return this.host;
  }

  /** @internal The `pause` a handler of `ps` gets. */
  pauseFor(ps: PartitionState): () => () => void {
    return () => {
      this.host.pause([{ topic: ps.topic, partitions: [ps.partition] }]);
      return () => this.host.resume([{ topic: ps.topic, partitions: [ps.partition] }]);
    };
  }

  /** @internal The `heartbeat` a handler of `ps` gets. */
  heartbeatFor(ps: PartitionState): () => Promise<void> {
    return async () => {
      // Calling heartbeat() is progress: the handler is alive.
      ps.progress++;
      this.host.heartbeat();
    };
  }

  private messages(ps: PartitionState, records: RecordColumns): KafkaMessage<K, V>[] {
    const des = this.host.deserializers;
    const raw = records.messages();
    // Without deserializers the decoded messages are handed over as they are.
    if (des?.key === undefined && des?.value === undefined) return raw as unknown as KafkaMessage<K, V>[];
    return raw.map((m) => new ConsumedMessage<K, V>(m, ps.topic, ps.partition, des.key, des.value));
  }

  /** Hands fetched records to the handler. */
  private async process(
    ps: PartitionState,
    records: RecordColumns,
    highWatermark: number,
    epoch: number,
  ): Promise<void> {
    const host = this.host;
    const cfg = this.config;
    const offsets = host.offsets;
    const isStale = () => ps.epoch !== epoch || ps.stopped;
    const batchInfo = batchEventInfo(ps.topic, ps.partition, highWatermark, records);
    host.emit(EVENTS.START_BATCH_PROCESS, batchInfo);
    const started = Date.now();
    if (cfg.eachMessage !== undefined) {
      if (!(await this.eachMessage(cfg.eachMessage, ps, records, epoch))) return;
    } else if (cfg.eachBatch !== undefined) {
      const handler = cfg.eachBatch;
      let messages: KafkaMessage<K, V>[] | null = null;
      const batch = makeBatch<K, V>(ps.topic, ps.partition, highWatermark, records, () => {
        messages ??= this.messages(ps, records);
        return messages;
      });
      const resolveOffset = (offset: string) => {
        const next = Number(offset) + 1;
        if (!Number.isSafeInteger(next)) throw new KafkaJSNonRetriableError(`invalid offset ${offset}`);
        if (ps.epoch === epoch) offsets.resolve(ps, next);
      };
      const payload = {
        batch,
        resolveOffset,
        heartbeat: this.heartbeatFor(ps),
        pause: this.pauseFor(ps),
        commitOffsetsIfNecessary: async (o?: OffsetsByTopicPartition) => {
          if (o !== undefined) await host.commitOffsets(flatten(o));
          else await offsets.afterBatch([ps]);
        },
        uncommittedOffsets: () => offsets.uncommitted(),
        isRunning: () => host.running(),
        isStale,
      };
      const ok = await this.invoke(ps, () => handler(payload));
      // Let go of the batch's message objects now. This frame's closure
      // context holds them, and a dead context that got into the old
      // generation kept each batch's objects alive through young-generation
      // collections until the next full one: every message object was
      // promoted (2.3x the bytes the Log API's read promotes, measured with
      // --trace-gc-nvp), the GC cost eachBatch had over that read. A batch
      // object kept past the handler makes its messages again if asked.
      messages = null;
      if (!ok) return;
      // A seek discards the batch; a stop does not: the handler finished it.
      if (ps.epoch !== epoch) return;
      if (cfg.eachBatchAutoResolve) resolveOffset(String(records.offsets[records.length - 1]));
      // Unresolved messages are fetched again, as kafkajs does.
      ps.position = ps.resolved;
    }
    host.emit(EVENTS.END_BATCH_PROCESS, { ...batchInfo, duration: Date.now() - started });
    host.heartbeat();
    await offsets.batchDone(ps);
  }

  /**
   * The eachMessage loop over one batch of a partition; false once the
   * consumer crashed. This is the per-message hot path, so it allocates only
   * what kafkajs' contract hands over (the message and its payload, made
   * as each message's turn comes, so they die young instead of living for
   * the whole batch) and waits only for what the handler returns that can
   * be awaited: a synchronous handler runs the batch without a microtask per
   * message; an async one is waited for, message by message, as kafkajs does.
   *
   * The messages are driven by `MessagePump` (below) rather than by an
   * `await` per message in this async function: resuming an async function
   * after each handler's promise costs about 15 ns more per message than a
   * callback on that promise (measured in isolation on Node 20: 45-51 ns
   * against 31-35 ns). What needs real waiting (a failed handler's retries,
   * a threshold commit) leaves the pump and comes back here.
   */
  private async eachMessage(
    handler: NonNullable<ConsumerRunConfig<K, V>['eachMessage']>,
    ps: PartitionState,
    records: RecordColumns,
    epoch: number,
  ): Promise<boolean> {
    const pump = new MessagePump<K, V>(this, handler, ps, records, epoch);
    for (;;) {
      const step = await pump.run();
      if (step === PumpStep.Done) return true;
      if (step === PumpStep.Failed) {
        const payload = pump.payload;
        if (!(await this.retryHandler(ps, pump.failure, async () => handler(payload)))) return false;
        // The retry succeeded: the message counts as handled.
        if (pump.handled() === PumpStep.Done) return true;
      }
      // A threshold commit (after the message that reached it, or after a retry).
      if (pump.commitDue()) await this.host.offsets.commitResolved([ps]);
    }
  }

  /** @internal For `MessagePump`: a handler starts or ends. */
  handlerStarted(ps: PartitionState): void {
    this.handlersRunning++;
    ps.busy++;
  }

  /** @internal */
  handlerEnded(ps: PartitionState): void {
    this.handlersRunning--;
    ps.busy--;
    ps.progress++;
  }

  /**
   * Runs a handler; the first attempt inline, a failure retried with backoff
   * per `retry`. After the retries the consumer crashes (kafkajs' CRASH
   * event, then `restartOnFailure`); false then.
   */
  private async invoke(ps: PartitionState, fn: () => Promise<void>): Promise<boolean> {
    let failure: unknown;
    this.handlersRunning++;
    ps.busy++;
    try {
      await fn();
      return true;
    } catch (e) {
      failure = e;
    } finally {
      this.handlersRunning--;
      ps.busy--;
      ps.progress++;
    }
    return this.retryHandler(ps, failure, fn);
  }

  /** The retry path after a handler's first attempt failed with `first`; false once crashed. */
  private async retryHandler(ps: PartitionState, first: unknown, fn: () => Promise<void>): Promise<boolean> {
    try {
      await withRetry(
        {
          ...this.host.retry,
          isRetriable: (e) => {
            const retriable = this.host.running() && handlerErrorRetriable(e);
            if (retriable)
              this.host.logger.error('handler failed; retrying', {
                error: (e as Error)?.message ?? String(e),
              });
            return retriable;
          },
        },
        async () => {
          this.handlersRunning++;
          ps.busy++;
          try {
            await fn();
          } finally {
            this.handlersRunning--;
            ps.busy--;
            ps.progress++;
          }
        },
        first,
      );
      return true;
    } catch (e) {
      const error = e instanceof KafkaJSNumberOfRetriesExceeded && e.cause !== undefined ? e.cause : e;
      // No more rounds: the message must not be fetched and failed again
      // before the crash (scheduled, not immediate) has stopped the consumer.
      this.end();
      this.host.crash(
        error instanceof Error ? error : new KafkaJSError(String(error)),
        handlerErrorRetriable(error),
      );
      return false;
    }
  }
}

/** Why `MessagePump.run` stopped. */
enum PumpStep {
  /** The batch is over: every message handled, or stale, stopped, paused or not running. */
  Done = 0,
  /** (From `handled` only) the next message may be handed over. */
  Continue = 3,
  /** The handler of `payload` failed with `failure` (its retries are the runner's). */
  Failed = 1,
  /** The uncommitted count reached autoCommitThreshold: commit, then run again. */
  Commit = 2,
}

/**
 * One batch's eachMessage loop as callbacks: messages are handed over one
 * at a time, synchronously while handlers return nothing to wait for, and
 * from the callback of each returned promise otherwise, so each handler
 * still finishes before the next message is handed over. Everything it
 * needs per message is made once per batch (the callbacks, the state).
 */
class MessagePump<K, V> {
  /** The payload in hand (the failed one when `run` gave Failed). */
  payload!: EachMessagePayload<K, V>;
  failure: unknown;
  private i = 0;
  private readonly n: number;
  private readonly at: Float64Array;
  private readonly plain: boolean;
  private readonly keyDes: Deserializer<K> | undefined;
  private readonly valueDes: Deserializer<V> | undefined;
  private readonly threshold: number;
  private readonly heartbeat: () => Promise<void>;
  private readonly pause: () => () => void;
  private resolveRun: (step: PumpStep) => void = () => undefined;
  private rejectRun: (e: unknown) => void = () => undefined;
  private readonly fulfilled: () => void;
  private readonly rejected: (e: unknown) => void;
  private readonly executor: (resolve: (step: PumpStep) => void, reject: (e: unknown) => void) => void;

  constructor(
    private readonly runner: Runner<K, V>,
    private readonly handler: NonNullable<ConsumerRunConfig<K, V>['eachMessage']>,
    private readonly ps: PartitionState,
    private readonly records: RecordColumns,
    private readonly epoch: number,
  ) {
    const host = runner.hostOf();
    const des = host.deserializers;
    this.keyDes = des?.key;
    this.valueDes = des?.value;
    this.plain = this.keyDes === undefined && this.valueDes === undefined;
    this.threshold = host.offsets.threshold;
    this.n = records.length;
    this.at = records.offsets;
    // Made once per batch: they are the same for every message of it.
    this.heartbeat = runner.heartbeatFor(ps);
    this.pause = runner.pauseFor(ps);
    this.fulfilled = () => {
      try {
        this.runner.handlerEnded(this.ps);
        if (this.handled() === PumpStep.Done) this.resolveRun(PumpStep.Done);
        else if (this.commitDue()) this.resolveRun(PumpStep.Commit);
        else this.pump();
      } catch (e) {
        this.rejectRun(e);
      }
    };
    this.rejected = (e: unknown) => {
      this.runner.handlerEnded(this.ps);
      this.failure = e;
      this.resolveRun(PumpStep.Failed);
    };
    this.executor = (resolve, reject) => {
      this.resolveRun = resolve;
      this.rejectRun = reject;
      try {
        this.pump();
      } catch (e) {
        reject(e);
      }
    };
  }

  /** Hands messages over from where it stopped; settles when it stops again. */
  run(): Promise<PumpStep> {
    return new Promise<PumpStep>(this.executor);
  }

  /**
   * The message in hand was handled: it is resolved and the position moves
   * past it. Done when the batch must end here (a seek discards the message
   * in hand; a stop or pause keeps it, as kafkajs does).
   */
  handled(): PumpStep {
    const ps = this.ps;
    if (ps.epoch !== this.epoch) return PumpStep.Done;
    const next = (this.at[this.i] as number) + 1;
    this.runner.hostOf().offsets.resolve(ps, next);
    ps.position = next;
    this.i++;
    if (ps.paused || ps.stopped) return PumpStep.Done;
    return PumpStep.Continue;
  }

  /** Whether autoCommitThreshold asks for a commit now. */
  commitDue(): boolean {
    return this.threshold > 0 && this.ps.uncommittedCount >= this.threshold;
  }

  private pump(): void {
    const ps = this.ps;
    const runner = this.runner;
    const host = runner.hostOf();
    const { topic, partition } = ps;
    while (this.i < this.n) {
      if (ps.epoch !== this.epoch || ps.stopped || !host.running()) break;
      const raw = new DecodedMessage(this.records, this.i);
      const message = (
        this.plain ? raw : new ConsumedMessage<K, V>(raw, topic, partition, this.keyDes, this.valueDes)
      ) as KafkaMessage<K, V>;
      const payload = { topic, partition, message, heartbeat: this.heartbeat, pause: this.pause };
      this.payload = payload;
      runner.handlerStarted(ps);
      let r: unknown;
      try {
        r = this.handler(payload);
      } catch (e) {
        this.rejected(e);
        return;
      }
      if (isThenable(r)) {
        // kafkajs awaits whatever the handler returns. A native promise is
        // used as it is; any other thenable is adopted by a promise first,
        // which calls its `then` once, later, and takes one outcome only.
        const p = r instanceof Promise ? r : Promise.resolve(r);
        p.then(this.fulfilled, this.rejected);
        return;
      }
      runner.handlerEnded(ps);
      if (this.handled() === PumpStep.Done) break;
      if (this.commitDue()) {
        this.resolveRun(PumpStep.Commit);
        return;
      }
    }
    this.resolveRun(PumpStep.Done);
  }
}

/** Whether a handler's result must be awaited (kafkajs awaits whatever it returns). */
function isThenable(r: unknown): r is PromiseLike<unknown> {
  return (
    r !== undefined &&
    r !== null &&
    (typeof r === 'object' || typeof r === 'function') &&
    typeof (r as { then?: unknown }).then === 'function'
  );
}

function flatten(o: OffsetsByTopicPartition): TopicPartitionOffsetAndMetadata[] {
  return o.topics.flatMap((t) =>
    t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })),
  );
}

/** Errors kafkajs' retrier never retries: a bug in the handler, not a passing failure. */
const UNRECOVERABLE_ERRORS = new Set(['RangeError', 'ReferenceError', 'SyntaxError', 'TypeError']);

/**
 * Whether kafkajs retries a handler's error: unless it says it is not
 * retriable, or it is a programming error (kafkajs' retrier bails on those).
 */
function handlerErrorRetriable(e: unknown): boolean {
  if ((e as { retriable?: unknown } | null)?.retriable === false) return false;
  return !(e instanceof Error && UNRECOVERABLE_ERRORS.has(e.name));
}
