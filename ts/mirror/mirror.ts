/**
 * `Mirror`: copies topics from one end (a data directory or Kafka brokers)
 * to another, forwarding the stored RecordBatches as they are.
 *
 * Exactly once across kills, and why it is built this way
 * -------------------------------------------------------
 * The mirror writes as an idempotent producer whose identity it keeps: per
 * partition, a producer id (from the target: InitProducerId on Kafka, the
 * engine's allocator locally) and an epoch. Sequences count the records the
 * mirror forwards, as any producer's do: a batch's base sequence is the
 * previous one's plus its span (last offset delta + 1), whatever the source
 * offsets between them. So a gap in the source (a transaction marker or an
 * aborted transaction left out, a compacted or deleted range) is no gap in
 * the sequences and needs no new epoch (Kafka accepts only the next
 * sequence of an epoch, ProducerAppendInfo.checkSequence; the previous
 * design tied sequences to source offsets, so each gap cost an epoch).
 *
 * Progress is committed every `commitIntervalMs` in a group named after the
 * mirror, on the target: the committed offset is the target's log end after
 * the mirror's last acknowledged write (a position in the target's own log,
 * so Kafka's tools show a true lag for the group), and the commit metadata
 * holds the producer id, epoch, the source offset copied up to and the
 * sequence there. On start, each partition reads the target's log from the
 * committed position to its end and counts the records of its own producer
 * id and epoch past the committed sequence (its last sequence + 1 - the
 * committed one): that many records were written and not committed before a
 * stop. It then walks the source from the committed source offset choosing
 * batches exactly as copying does (markers and aborted transactions left
 * out) until it has passed that many, and copies on from there. The target's
 * log says how far the mirror got, in bytes it stored atomically with the
 * data; no producer state API is needed (ferrolog's broker has no
 * DescribeProducers, and producer state expires after
 * `producer.id.expiration.ms`).
 *
 * The producer id and epoch are reused after a restart (never a fresh id)
 * for the one case the log cannot settle: a produce request the killed
 * process had in flight that the broker appends after the new process read
 * the tail. Its batches carry the same (id, epoch, sequence) as the ones the
 * new process resends (the walk is deterministic), so Kafka's (and the
 * engine's) duplicate check on the last five batches of a producer drops
 * whichever arrives second, or refuses it as out of order once more were
 * written. At most five produce requests per partition are in flight (one
 * batch per partition per request: Kafka takes no more), within those five.
 *
 * Pipelining keeps an idempotent producer's rules: requests go out in
 * sequence order; when one fails (a retriable error, or OUT_OF_ORDER_SEQUENCE
 * because an earlier one failed), nothing more is sent for that partition
 * until every request in flight has answered; then the target's log is read
 * for how far it got, the batches it holds are counted as written, and the
 * rest are resent in order with the same sequences.
 *
 * One mirror per name: see membership.ts (a static member of the progress
 * group; a newer mirror of the same name fences the older one).
 */
import { EventEmitter } from 'node:events';
import * as F from '../codec/format';
import { InvalidArgumentError, KafkaJSError, KafkaJSNonRetriableError } from '../errors';
import { KafkaErrorCode } from '../kafka-codes';
import {
  type BatchRef,
  CONTROL_ABORT,
  CONTROL_COMMIT,
  controlType,
  lastSequence,
  restamp,
  SEQUENCE_SPAN,
  wholeBatches,
} from './batches';
import {
  ENGINE_ONLY_CONFIGS,
  type Endpoint,
  type EndpointTopic,
  isRetriableWrite,
  type PartitionRead,
  PORTABLE_CONFIGS,
  type WriteResult,
} from './endpoints';
import { MirrorFencedError, StaticMembership } from './membership';
import { tailBatch } from './tail';

export interface MirrorOptions {
  /** The mirror's name; its progress is the group `ferrolog-mirror.<name>` on the target (default `default`). */
  name?: string;
  /** Which source topics to copy (default: every topic not starting with `__`). */
  topics?: RegExp | string;
  /**
   * Where a partition with no progress yet starts (default: the source's log
   * start). An offset inside a batch copies only that batch's records from it.
   */
  fromOffset?: number;
  /** Bytes read per partition per round (default 1 MiB; at least one batch). */
  maxBytesPerPartition?: number;
  /** Produce requests in flight per partition, 1 to 5 (Kafka's idempotence bound; default 5). */
  maxInFlightPerPartition?: number;
  /**
   * Bytes of batches read and not yet acknowledged, over all partitions
   * (default 64 MiB; reading stops past it, and one request always goes out).
   */
  maxInFlightBytes?: number;
  /** How long a read waits for new data when there is none (default 500 ms). */
  maxWaitMs?: number;
  /** How often progress is committed (default 1000 ms). */
  commitIntervalMs?: number;
  /** How often new topics and partitions are looked for (default 5000 ms). */
  topicRefreshMs?: number;
  /** The progress group's session timeout (default 10000 ms): how long a mirror may go unheard. */
  sessionTimeoutMs?: number;
  /** Stop once every partition has caught up (lag 0), instead of streaming on. */
  stopWhenCaughtUp?: boolean;
}

export interface MirrorPartitionLag {
  topic: string;
  partition: number;
  /** The next source offset to copy. */
  position: number;
  /** The source's high watermark when last read. */
  highWatermark: number;
  /** highWatermark - position. */
  lag: number;
  /** The committed source offset. */
  committed: number;
}

export interface MirrorResume {
  topic: string;
  partition: number;
  /** Source offset committed in the mirror's group, or -1. */
  committed: number;
  /** Where copying resumes: past everything found on the target. */
  position: number;
  /** Source offsets found copied on the target past the committed one (written, not yet committed, before a stop). */
  recovered: number;
  producerId: number;
  producerEpoch: number;
}

/** Events: 'topic' ({ topic, action, partitions, warnings }), 'resume' (MirrorResume), 'lag' ({ partitions, total, copied }), 'warning' (string), 'caughtUp', 'stopped'. */
export type MirrorEvent = 'topic' | 'resume' | 'lag' | 'warning' | 'caughtUp' | 'stopped';

/** What a commit's metadata holds (version 2; the group's offset is the target position). */
interface Meta {
  v: 2;
  /** Producer id. */
  p: number;
  /** Epoch. */
  e: number;
  /** The source offset copied up to. */
  n: number;
  /** The sequence of the next record forwarded from there. */
  q: number;
}

/** A batch on its way: restamped once, resent as the same bytes. */
interface Item {
  records: Buffer;
  /** The source offset after it. */
  after: number;
  seq: number;
  /** Sequences (and target offsets) it spans. */
  span: number;
  state: 'queued' | 'sent' | 'acked' | 'failed';
  code: number;
  message: string | null;
  /** The target's log end after it, when acknowledged (-1 unknown). */
  targetNext: number;
}

interface PartitionState {
  topic: string;
  partition: number;
  p: number;
  e: number;
  /** Acknowledged: every source offset before `next` is on the target; `seq` is the sequence at `next`. */
  next: number;
  seq: number;
  /** The target's log end after the last acknowledged write (where a scan of the target starts). */
  t: number;
  /** Read ahead: the next source offset to read, and the sequence its first forwarded batch gets. */
  readAt: number;
  sendSeq: number;
  /** Batches past `next`, in order: the first `sent` of them were sent. */
  items: Item[];
  sent: number;
  /** A write failed: nothing more goes out until every one in flight answers, then `recover`. */
  failed: boolean;
  attempts: number;
  retryAt: number;
  committed: number;
  /** What the last commit said, to skip commits that change nothing. */
  committedMeta: string;
  highWatermark: number;
}

const EPOCH_MAX = 32767;
const WRITE_ATTEMPTS = 10;
/** Kafka's bound for an idempotent producer (max.in.flight.requests.per.connection <= 5). */
const IN_FLIGHT_MAX = 5;
/**
 * Produce errors after which the batch is known not to be stored:
 * UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER,
 * NOT_ENOUGH_REPLICAS, OUT_OF_ORDER_SEQUENCE_NUMBER, FENCED_LEADER_EPOCH,
 * UNKNOWN_LEADER_EPOCH.
 */
const NOT_STORED = new Set([3, 5, 6, 19, 45, 74, 75]);
/** A produce request stops growing past this (Kafka's socket.request.max.bytes is 100 MiB). */
const REQUEST_BYTES_MAX = 16 << 20;

export function mirrorGroupId(name: string): string {
  return `ferrolog-mirror.${name}`;
}

function mod(n: number): number {
  return ((n % SEQUENCE_SPAN) + SEQUENCE_SPAN) % SEQUENCE_SPAN;
}

export class Mirror extends EventEmitter {
  readonly name: string;
  readonly groupId: string;
  private readonly source: Endpoint;
  private readonly target: Endpoint;
  private readonly filter: RegExp | null;
  private readonly fromOffset: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;
  private readonly maxInFlightBytes: number;
  private readonly maxWaitMs: number;
  private readonly commitIntervalMs: number;
  private readonly topicRefreshMs: number;
  private readonly stopWhenCaughtUp: boolean;
  private readonly membership: StaticMembership;
  private readonly parts = new Map<string, PartitionState>();
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private stopping = false;
  private copied = 0;
  private rounds = 0;
  private lastCommit = 0;
  private lastRefresh = 0;
  /** Produce requests not answered yet, and the bytes they carry. */
  private readonly requests = new Set<Promise<void>>();
  private inFlightBytes = 0;
  /** Bytes of batches read and not yet acknowledged (queued or in flight), bounded by `maxInFlightBytes`. */
  private buffered = 0;
  /** A failure met in a request's callback, rethrown by the loop. */
  private fatal: Error | null = null;
  /** One producer id for every partition this run starts fresh (per partition state is the broker's). */
  private freshProducerId: number | null = null;
  /** Per partition and producer id: the outcome of its transaction, valid below the marker's offset. */
  private readonly outcomes = new Map<string, Map<number, { outcome: 'commit' | 'abort'; marker: number }>>();
  private readonly warnedOpen = new Set<string>();
  private readonly triedConfigs = new Set<string>();

  constructor(source: Endpoint, target: Endpoint, options: MirrorOptions = {}) {
    super();
    this.source = source;
    this.target = target;
    this.name = options.name ?? 'default';
    if (typeof this.name !== 'string' || !/^[A-Za-z0-9._-]{1,200}$/.test(this.name)) {
      throw new InvalidArgumentError(`mirror name must be 1-200 of [A-Za-z0-9._-], not ${String(this.name)}`);
    }
    this.groupId = mirrorGroupId(this.name);
    const t = options.topics;
    this.filter = t === undefined ? null : t instanceof RegExp ? t : new RegExp(t);
    this.fromOffset = nonNegative('fromOffset', options.fromOffset ?? 0);
    this.maxBytes = positive('maxBytesPerPartition', options.maxBytesPerPartition ?? 1 << 20);
    this.maxInFlight = positive('maxInFlightPerPartition', options.maxInFlightPerPartition ?? IN_FLIGHT_MAX);
    if (this.maxInFlight > IN_FLIGHT_MAX) {
      throw new InvalidArgumentError(
        `maxInFlightPerPartition must be at most ${IN_FLIGHT_MAX} (an idempotent producer's bound), not ${this.maxInFlight}`,
      );
    }
    this.maxInFlightBytes = positive('maxInFlightBytes', options.maxInFlightBytes ?? 64 << 20);
    this.maxWaitMs = nonNegative('maxWaitMs', options.maxWaitMs ?? 500);
    this.commitIntervalMs = nonNegative('commitIntervalMs', options.commitIntervalMs ?? 1000);
    this.topicRefreshMs = nonNegative('topicRefreshMs', options.topicRefreshMs ?? 5000);
    const session = positive('sessionTimeoutMs', options.sessionTimeoutMs ?? 10000);
    this.stopWhenCaughtUp = options.stopWhenCaughtUp === true;
    this.membership = new StaticMembership(
      target.groups(),
      this.groupId,
      this.name,
      `ferrolog-mirror-${this.name}`,
      session,
    );
    // Fenced by a newer mirror of this name: stop now (what is in flight is the newer one's to settle).
    this.membership.onFenced = (e) => this.fail(e);
    // An EventEmitter throws on 'error' with no listener; the mirror reports errors through run() instead.
  }

  /** Copies until `stop()` (or, with `stopWhenCaughtUp`, until the lag is 0); rejects on a fatal error. */
  run(): Promise<void> {
    if (this.running === null) {
      this.running = this.loop().finally(async () => {
        await this.membership.stop();
        await Promise.allSettled([this.source.close(), this.target.close()]);
        this.emit('stopped');
      });
    }
    return this.running;
  }

  /** Stops after the current round, commits progress and closes both ends. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    if (this.running === null) {
      await Promise.allSettled([this.source.close(), this.target.close()]);
      return;
    }
    await this.running.catch(() => undefined);
  }

  /** The lag of every partition, as last measured. */
  lag(): MirrorPartitionLag[] {
    return [...this.parts.values()].map((s) => ({
      topic: s.topic,
      partition: s.partition,
      position: s.next,
      highWatermark: s.highWatermark,
      lag: Math.max(0, s.highWatermark - s.next),
      committed: s.committed,
    }));
  }

  private fail(e: Error): void {
    if (this.fatal === null) this.fatal = e;
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    // Joined before reading any progress: from here on the previous mirror of this name can commit nothing.
    await this.membership.start();
    this.membership.identity();
    await this.refreshTopics();
    // What resume found is committed already (or on the target): the first commit is due one interval on.
    this.lastCommit = Date.now();
    try {
      while (!this.stopping && this.fatal === null) {
        if (Date.now() - this.lastRefresh >= this.topicRefreshMs) await this.refreshTopics();
        const progressed = await this.fill();
        await this.dispatch();
        await this.recoverFailed();
        await this.dispatch();
        if (this.fatal !== null) break;
        if (Date.now() - this.lastCommit >= this.commitIntervalMs) await this.commit();
        // After the commit, so an event's `committed` is what a kill right after it would leave.
        const lag = this.lag();
        const total = lag.reduce((n, p) => n + p.lag, 0);
        this.emit('lag', { partitions: lag, total, copied: this.copied });
        const idle = this.requests.size === 0 && [...this.parts.values()].every((s) => s.items.length === 0);
        if (total === 0 && idle && !progressed && this.stopWhenCaughtUp) {
          await this.commit();
          this.emit('caughtUp');
          break;
        }
        // Nothing new read and requests out: wait for one to answer rather than spin on reads.
        if (!progressed && this.requests.size > 0) await Promise.race(this.requests);
        else if (!progressed) await this.untilRetry();
      }
      // Let every request answer, so the last commit covers what was acknowledged.
      while (this.requests.size > 0) await Promise.race(this.requests);
    } catch (e) {
      this.fail(e as Error);
      while (this.requests.size > 0) await Promise.race(this.requests);
    }
    if (this.fatal !== null) {
      // Fenced: the newer mirror owns the progress now. Any other failure: what was acknowledged is
      // committed (best effort) so a restart reads less of the target.
      if (!(this.fatal instanceof MirrorFencedError)) await this.commit().catch(() => undefined);
      throw this.fatal;
    }
    await this.commit();
  }

  // ------------------------------------------------------------ topics

  private async refreshTopics(): Promise<void> {
    this.lastRefresh = Date.now();
    const [sourceTopics, targetTopics] = await Promise.all([this.source.topics(), this.target.topics()]);
    const existing = new Map(targetTopics.map((t) => [t.name, t]));
    const fresh: { topic: string; partition: number }[] = [];
    for (const t of sourceTopics) {
      if (this.filter !== null && !this.filter.test(t.name)) continue;
      await this.ensureTopic(t, existing.get(t.name));
      for (let p = 0; p < t.partitions; p++) {
        if (!this.parts.has(key(t.name, p))) fresh.push({ topic: t.name, partition: p });
      }
    }
    if (fresh.length > 0) await this.resume(fresh);
  }

  private async ensureTopic(t: EndpointTopic, there: EndpointTopic | undefined): Promise<void> {
    if (there === undefined) {
      const warnings = await this.target.createTopic(t.name, t.partitions, t.configs);
      for (const w of warnings) this.emit('warning', w);
      this.emit('topic', {
        topic: t.name,
        action: 'created',
        partitions: t.partitions,
        configs: t.configs,
        warnings,
      });
      return;
    }
    if (there.partitions < t.partitions) {
      await this.target.createPartitions(t.name, t.partitions);
      this.emit('topic', { topic: t.name, action: 'grown', partitions: t.partitions, warnings: [] });
    }
    // Configs changed at the source since: set them on the target too (its own extra configs stay).
    const changed: Record<string, string> = {};
    for (const [k, v] of Object.entries(t.configs)) {
      if (there.configs[k] !== v && carries(this.target.kind, k)) changed[k] = v;
    }
    const key = `${t.name}\u0000${JSON.stringify(changed)}`;
    if (Object.keys(changed).length > 0 && !this.triedConfigs.has(key)) {
      // A change the target refuses is tried once per run, not at every refresh.
      this.triedConfigs.add(key);
      const warnings = await this.target.alterConfigs(t.name, changed, there.configs);
      for (const w of warnings) this.emit('warning', w);
      this.emit('topic', {
        topic: t.name,
        action: 'configured',
        partitions: t.partitions,
        configs: changed,
        warnings,
      });
    }
    if (there.partitions > t.partitions) {
      this.emit(
        'warning',
        `${t.name}: the target has ${there.partitions} partitions, the source ${t.partitions}; copying the source's`,
      );
    }
  }

  // ------------------------------------------------------------ resume

  /** Sets up partitions: committed progress, then past whatever of ours the target already holds. */
  private async resume(fresh: { topic: string; partition: number }[]): Promise<void> {
    const byTopic = new Map<string, number[]>();
    for (const f of fresh) byTopic.set(f.topic, [...(byTopic.get(f.topic) ?? []), f.partition]);
    const committed = await this.target.committed(
      this.groupId,
      [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    );
    const byKey = new Map(committed.map((c) => [key(c.topic, c.partition), c]));
    const sourceOffsets = await this.source.offsets(fresh);
    const toCommit: PartitionState[] = [];
    for (let i = 0; i < fresh.length; i++) {
      const f = fresh[i] as { topic: string; partition: number };
      const so = sourceOffsets[i] as { start: number; end: number };
      const c = byKey.get(key(f.topic, f.partition));
      const meta = c !== undefined && c.offset >= 0 ? parseMeta(c.metadata, c.offset) : null;
      if (c === undefined || c.offset < 0 || meta === null) {
        if (c !== undefined && c.offset >= 0) {
          this.emit(
            'warning',
            `${f.topic}-${f.partition}: committed offset ${c.offset} has no mirror metadata; starting there`,
          );
        }
        // A first start: a producer identity of its own, committed before anything is written with it.
        const start =
          c !== undefined && c.offset >= 0 ? c.offset : Math.min(so.end, Math.max(so.start, this.fromOffset));
        const targetEnd = (await this.target.offsets([f]))[0]?.end ?? 0;
        const s = newState(f, await this.producerId(), 0, start, 0, targetEnd, so.end);
        s.committed = -1;
        toCommit.push(s);
        this.parts.set(key(f.topic, f.partition), s);
        this.emit('resume', resumeEvent(s, -1, 0));
        continue;
      }
      const s = newState(f, meta.p, meta.e, meta.n, meta.q, meta.t, so.end);
      s.committedMeta = metaText(s);
      const beyond = await this.scanTarget(s);
      if (beyond > 0 && !(await this.walk(s, beyond))) {
        // The source no longer holds what the target says was copied past the commit (deleted by
        // retention since): where that ends cannot be counted. A new epoch from the source's start.
        const [now] = await this.source.offsets([f]);
        const from = Math.max(s.next, now?.start ?? s.next);
        this.emit(
          'warning',
          `${f.topic}-${f.partition}: ${beyond} record(s) copied past the commit came from source offsets deleted since; resuming at ${from} (records copied from offsets at or after it before the stop are copied again)`,
        );
        s.e++;
        if (s.e > EPOCH_MAX) {
          s.p = await this.target.newProducerId();
          s.e = 0;
        }
        s.next = from;
        s.readAt = from;
        s.seq = 0;
        s.sendSeq = 0;
        toCommit.push(s);
      }
      this.parts.set(key(f.topic, f.partition), s);
      this.emit('resume', resumeEvent(s, meta.n, Math.max(0, s.next - meta.n)));
    }
    if (toCommit.length > 0) await this.commitStates(toCommit, true);
  }

  private async producerId(): Promise<number> {
    if (this.freshProducerId === null) this.freshProducerId = await this.target.newProducerId();
    return this.freshProducerId;
  }

  /**
   * Reads the target partition from the last acknowledged position to its
   * log end and returns how many sequences of this partition's producer id
   * and epoch it holds past `s.seq` (0 when none).
   */
  private async scanTarget(s: PartitionState, fromStart = false): Promise<number> {
    const [w] = await this.target.offsets([s]);
    if (w === undefined) return 0;
    let at = fromStart ? w.start : Math.max(s.t, w.start);
    let best = 0;
    while (at < w.end) {
      const [r] = await this.target.read(
        [{ topic: s.topic, partition: s.partition, offset: at }],
        4 << 20,
        0,
        this.abort.signal,
      );
      if (r === undefined || r.errorCode !== 0) {
        throw new KafkaJSNonRetriableError(
          `reading ${s.topic}-${s.partition} of the target at ${at} to resume: error ${r?.errorCode ?? 'none'}`,
        );
      }
      const batches = wholeBatches(r.chunk);
      if (batches.length === 0) break;
      for (const b of batches) {
        if (b.producerId !== s.p || b.producerEpoch !== s.e) continue;
        // Batches before the acknowledged sequence come out near 2^31 (mod): not past it.
        const beyond = mod(lastSequence(b.baseSequence, b.lastOffset - b.baseOffset) + 1 - s.seq);
        if (beyond < SEQUENCE_SPAN / 2 && beyond > best) best = beyond;
      }
      const end = (batches[batches.length - 1] as BatchRef).lastOffset + 1;
      if (end <= at) break;
      at = end;
      // The target end only grows while scanning: use what it was, others' writes since are not ours.
    }
    // The next scan (after a failed write) need not read this range again.
    s.t = Math.max(s.t, Math.min(at, w.end));
    return best;
  }

  /**
   * Moves `s` past `count` sequences' worth of source batches, chosen as
   * copying chooses them, from `s.next`. False when the source cannot say
   * (deleted, or shorter than that).
   */
  private async walk(s: PartitionState, count: number): Promise<boolean> {
    let left = count;
    while (left > 0) {
      const [r] = await this.source.read(
        [{ topic: s.topic, partition: s.partition, offset: s.readAt }],
        this.maxBytes,
        0,
        this.abort.signal,
      );
      // Deleted since (OFFSET_OUT_OF_RANGE): the caller decides. Any other failure: stop, try later.
      if (r === undefined || r.errorCode === KafkaErrorCode.OFFSET_OUT_OF_RANGE) return false;
      if (r.errorCode !== 0) {
        throw new KafkaJSError(
          `reading ${s.topic}-${s.partition} of the source at ${s.readAt} to resume failed with error ${r.errorCode}`,
        );
      }
      const before = s.readAt;
      const items: Item[] = [];
      await this.take(s, r, (it) => items.push(it));
      let used = 0;
      for (const it of items) {
        if (left === 0) break;
        if (it.span > left) {
          throw new KafkaJSNonRetriableError(
            `${s.topic}-${s.partition}: the target holds ${count} record(s) of this mirror past its commit, which ends inside the source batch before offset ${it.after}; the source changed under the mirror`,
          );
        }
        left -= it.span;
        s.next = it.after;
        s.seq = mod(it.seq + it.span);
        used++;
      }
      if (used === items.length) {
        // Everything taken counted: the batches left out after it are passed over too.
        s.next = s.readAt;
      } else {
        s.readAt = s.next;
        s.sendSeq = s.seq;
      }
      if (s.readAt === before && items.length === 0) return false;
    }
    return true;
  }

  // ------------------------------------------------------------ reading

  /**
   * Reads every partition with nothing queued, and queues what came back.
   * Returns whether any position moved.
   */
  private async fill(): Promise<boolean> {
    const all = [...this.parts.values()];
    if (all.length === 0) {
      await sleep(Math.min(this.maxWaitMs, 200), this.abort.signal);
      return false;
    }
    // A different partition first each round: a fetch's total byte limit then starves none.
    const first = this.rounds++ % all.length;
    const rotated = [...all.slice(first), ...all.slice(0, first)];
    // Batches waiting their turn keep requests going; bytes in flight bound what more is read.
    const states = rotated.filter((s) => !s.failed && s.items.length === s.sent);
    if (states.length === 0 || this.buffered >= this.maxInFlightBytes) return false;
    const busy = this.requests.size > 0;
    let reads: PartitionRead[];
    try {
      reads = await this.source.read(
        states.map((s) => ({ topic: s.topic, partition: s.partition, offset: s.readAt })),
        this.maxBytes,
        busy ? 0 : this.maxWaitMs,
        this.abort.signal,
      );
    } catch (e) {
      if (this.stopping || this.fatal !== null) return false;
      throw e;
    }
    let progressed = false;
    let stalled = false;
    for (const r of reads) {
      const s = this.parts.get(key(r.topic, r.partition));
      if (s === undefined) continue;
      s.highWatermark = r.highWatermark;
      if (r.errorCode === KafkaErrorCode.OFFSET_OUT_OF_RANGE) {
        // Out of range: the source deleted what was not copied yet (retention). Nothing to do but
        // move on; sequences count records, so the gap costs nothing more.
        if (s.readAt < r.logStartOffset) {
          this.emit(
            'warning',
            `${s.topic}-${s.partition}: offsets ${s.readAt}..${r.logStartOffset - 1} were deleted from the source before being copied`,
          );
          s.readAt = r.logStartOffset;
          progressed = true;
          this.settle(s);
        }
        continue;
      }
      if (r.errorCode !== 0) {
        this.emit(
          'warning',
          `${s.topic}-${s.partition}: reading the source failed with error ${r.errorCode}; retrying`,
        );
        stalled = true;
        continue;
      }
      const before = s.readAt;
      // Each batch joins the queue as the read position passes it (see take).
      const taken = await this.take(s, r, (it) => {
        s.items.push(it);
        this.buffered += it.records.byteLength;
      });
      if (taken.stalled) stalled = true;
      if (s.readAt !== before) progressed = true;
      this.settle(s);
    }
    if (stalled && !progressed && !busy) {
      // Only a transaction still open at the source, or a failed read: wait before trying again.
      await sleep(this.maxWaitMs, this.abort.signal);
    }
    return progressed;
  }

  /**
   * The batches of a read to forward, from `s.readAt`, restamped with this
   * partition's identity and the next sequences; moves `s.readAt` and
   * `s.sendSeq` past them. Control batches, aborted transactions and empty
   * batches are passed over (no sequence is spent on them); a batch the
   * position falls inside is cut to its records from the position.
   */
  private async take(
    s: PartitionState,
    r: PartitionRead,
    add: (it: Item) => void,
  ): Promise<{ stalled: boolean }> {
    for (const b of wholeBatches(r.chunk)) {
      if (b.lastOffset < s.readAt) continue;
      if (b.isControl) {
        // Transaction markers are the source's, not data.
        s.readAt = b.lastOffset + 1;
        continue;
      }
      if (b.isTransactional) {
        const outcome = await this.transactionOutcome(s, b);
        // Its marker is not readable yet: copy up to here and come back.
        if (outcome === 'open') return { stalled: true };
        if (outcome === 'abort') {
          s.readAt = b.lastOffset + 1;
          continue;
        }
      }
      let chunk = r.chunk;
      let ref = b;
      if (b.baseOffset < s.readAt) {
        const tail = await tailBatch(r.chunk, b, s.readAt);
        const cut = tail === null ? undefined : wholeBatches(tail)[0];
        if (tail === null || cut === undefined) {
          s.readAt = b.lastOffset + 1;
          continue;
        }
        chunk = tail;
        ref = cut;
      } else if (r.chunk.readInt32BE(b.position + F.RECORD_COUNT) === 0) {
        // Compaction can leave a batch with no records: nothing to forward.
        s.readAt = b.lastOffset + 1;
        continue;
      }
      const span = ref.lastOffset - ref.baseOffset + 1;
      // Handed over in the same synchronous step that moves the read position past it: an
      // acknowledgement settling the queue in between (take awaits) must never see the position
      // moved and the queue empty, which would let `next` run ahead of `seq` (and a commit
      // of that pair skip records on resume).
      add({
        records: restamp(chunk, ref, s.p, s.e, s.sendSeq),
        after: b.lastOffset + 1,
        seq: s.sendSeq,
        span,
        state: 'queued',
        code: 0,
        message: null,
        targetNext: -1,
      });
      s.sendSeq = mod(s.sendSeq + span);
      s.readAt = b.lastOffset + 1;
    }
    return { stalled: false };
  }

  /**
   * Whether a transaction of a source batch committed: its producer's
   * next marker after it says (a Kafka source is read read_committed, so
   * the marker of anything read is in the log). Read ahead from the batch;
   * the answer holds for that producer's batches until the marker.
   */
  private async transactionOutcome(s: PartitionState, b: BatchRef): Promise<'commit' | 'abort' | 'open'> {
    const k = key(s.topic, s.partition);
    let known = this.outcomes.get(k);
    if (known === undefined) {
      known = new Map();
      this.outcomes.set(k, known);
    }
    const cached = known.get(b.producerId);
    if (cached !== undefined && b.baseOffset < cached.marker) return cached.outcome;
    let at = b.lastOffset + 1;
    for (;;) {
      const [r] = await this.source.read(
        [{ topic: s.topic, partition: s.partition, offset: at }],
        this.maxBytes,
        0,
        this.abort.signal,
      );
      if (r === undefined || r.errorCode !== 0 || r.chunk.byteLength === 0) break;
      const batches = wholeBatches(r.chunk);
      if (batches.length === 0) break;
      for (const c of batches) {
        if (c.lastOffset < at || !c.isControl || c.producerId !== b.producerId) continue;
        const type = controlType(r.chunk, c);
        if (type !== CONTROL_ABORT && type !== CONTROL_COMMIT) continue;
        const outcome = type === CONTROL_COMMIT ? 'commit' : 'abort';
        known.set(b.producerId, { outcome, marker: c.baseOffset });
        return outcome;
      }
      at = (batches[batches.length - 1] as BatchRef).lastOffset + 1;
      if (this.stopping) break;
    }
    const w = `${k}-${b.producerId}`;
    if (!this.warnedOpen.has(w)) {
      this.warnedOpen.add(w);
      this.emit(
        'warning',
        `${s.topic}-${s.partition}: waiting at offset ${b.baseOffset} for producer ${b.producerId}'s transaction to end`,
      );
    }
    return 'open';
  }

  // ------------------------------------------------------------ writing

  /** Waits for the earliest resend a failed partition is backing off from, if any waits. */
  private async untilRetry(): Promise<void> {
    const now = Date.now();
    let at = Number.POSITIVE_INFINITY;
    for (const s of this.parts.values())
      if (s.items.length > s.sent && s.retryAt > now) at = Math.min(at, s.retryAt);
    if (at !== Number.POSITIVE_INFINITY) await sleep(at - now, this.abort.signal);
  }

  /** Past the acknowledged batches at the front of a partition's queue. */
  private settle(s: PartitionState): void {
    for (let it = s.items[0]; it !== undefined && it.state === 'acked'; it = s.items[0]) {
      s.items.shift();
      s.sent--;
      this.buffered -= it.records.byteLength;
      s.next = it.after;
      s.seq = mod(it.seq + it.span);
      if (it.targetNext >= 0) s.t = Math.max(s.t, it.targetNext);
      this.copied += it.span;
      s.attempts = 0;
    }
    // Nothing pending: what was passed over after the last batch is done too.
    if (s.items.length === 0) s.next = Math.max(s.next, s.readAt);
  }

  /**
   * Sends produce requests, each with the next batch of every partition
   * that has fewer than `maxInFlight` in flight and no failure pending, in
   * sequence order per partition, while the bytes in flight allow. Yields
   * to the event loop between two requests: the native client starts each
   * call on its own task, and one started right behind another can reach
   * the socket first (the broker then refuses the overtaking batch as out of
   * order and it is resent; see recover), which a moment between them makes
   * rare.
   */
  private async dispatch(): Promise<void> {
    for (let sent = 0; ; sent++) {
      if (this.stopping || this.fatal !== null) return;
      if (sent > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const now = Date.now();
      const batch: { s: PartitionState; it: Item }[] = [];
      let bytes = 0;
      for (const s of this.parts.values()) {
        if (s.failed || s.retryAt > now || s.sent >= this.maxInFlight) continue;
        const it = s.items[s.sent];
        if (it === undefined) continue;
        const size = it.records.byteLength;
        if (batch.length > 0 && bytes + size > REQUEST_BYTES_MAX) continue;
        // Over the byte bound only when nothing else is in flight: one batch always goes.
        const out = this.inFlightBytes + bytes;
        if (out > 0 && out + size > this.maxInFlightBytes) continue;
        batch.push({ s, it });
        bytes += size;
      }
      if (batch.length === 0) return;
      this.send(batch, bytes);
    }
  }

  private send(batch: { s: PartitionState; it: Item }[], bytes: number): void {
    for (const { s, it } of batch) {
      it.state = 'sent';
      s.sent++;
    }
    this.inFlightBytes += bytes;
    const request: Promise<void> = this.target
      .write(batch.map(({ s, it }) => ({ topic: s.topic, partition: s.partition, records: it.records })))
      .then(
        (results) => this.answered(batch, results, null),
        (e: unknown) => this.answered(batch, null, e as Error),
      )
      .catch((e: unknown) => this.fail(e as Error))
      .finally(() => {
        this.inFlightBytes -= bytes;
        this.requests.delete(request);
      });
    this.requests.add(request);
  }

  private answered(
    batch: { s: PartitionState; it: Item }[],
    results: WriteResult[] | null,
    error: Error | null,
  ): void {
    if (results === null) {
      // The whole request failed (connection, timeout). Retriable: as a failed batch, since it may
      // or may not have been stored (the target's log says which, see recover).
      const retriable = error instanceof KafkaJSError && error.retriable;
      if (!retriable) this.fail(error ?? new KafkaJSNonRetriableError('a write to the target failed'));
    } else if (results.length < batch.length) {
      this.fail(new KafkaJSNonRetriableError('the target answered fewer batches than were sent'));
    }
    const touched = new Set<PartitionState>();
    for (let i = 0; i < batch.length; i++) {
      const { s, it } = batch[i] as { s: PartitionState; it: Item };
      const r = results?.[i];
      touched.add(s);
      if (r !== undefined && r.errorCode === 0) {
        it.state = 'acked';
        it.targetNext = r.nextOffset;
      } else {
        it.state = 'failed';
        it.code = r?.errorCode ?? -1;
        it.message = r?.errorMessage ?? error?.message ?? null;
        s.failed = true;
      }
    }
    for (const s of touched) this.settle(s);
  }

  /** Partitions with a failed write and nothing in flight any more: find where the target is, resend the rest. */
  private async recoverFailed(): Promise<void> {
    for (const s of this.parts.values()) {
      if (this.fatal !== null) return;
      if (!s.failed || s.items.some((it) => it.state === 'sent')) continue;
      await this.recover(s);
    }
  }

  private async recover(s: PartitionState): Promise<void> {
    const failed = s.items.filter((it) => it.state === 'failed');
    const refused = failed.find(
      (it) =>
        it.code !== -1 &&
        it.code !== KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER &&
        !isRetriableWrite(it.code),
    );
    const first = refused ?? failed[0];
    const what =
      first === undefined ? 'error' : `error ${first.code}${first.message ? `: ${first.message}` : ''}`;
    if (refused !== undefined || s.attempts >= WRITE_ATTEMPTS) {
      const tries = refused !== undefined ? '' : ` (${s.attempts} attempts`;
      const where =
        refused !== undefined
          ? ''
          : `; acknowledged up to source offset ${s.next}, sequence ${s.seq} of producer ${s.p} epoch ${s.e}; the target's log holds nothing of it past that)`;
      throw new KafkaJSError(
        `writing ${s.topic}-${s.partition} to the target failed with ${what}${tries}${where}`,
        {
          retriable: false,
        },
      );
    }
    s.attempts++;
    if (s.attempts === 1 && failed.every((it) => NOT_STORED.has(it.code))) {
      // Refusals that stored nothing (a request overtaken by the one behind it, a leader moving):
      // resend from the first unacknowledged batch at once. Should the target be ahead after all,
      // the resend says so (a duplicate is answered as stored; further ahead, OUT_OF_ORDER again,
      // and the next attempt reads the target's log).
      for (const it of s.items) it.state = 'queued';
      s.sent = 0;
      s.failed = false;
      const moved = failed.some((it) => it.code !== KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      s.retryAt = moved ? Date.now() + 50 : 0;
      if (moved)
        this.emit('warning', `${s.topic}-${s.partition}: ${what}; resending from source offset ${s.next}`);
      return;
    }
    // OUT_OF_ORDER_SEQUENCE again, or an answer that does not say whether the batch was stored (a
    // timeout, a lost connection): the target's log says how far it got.
    // From the last acknowledged position; refused again after that, from the log's start (the
    // progress it started from may be wrong: a target position past batches of this producer).
    let left = await this.scanTarget(s, s.attempts >= 3);
    let covered = 0;
    for (const it of s.items) {
      if (left > 0 && it.span > left) {
        throw new KafkaJSNonRetriableError(
          `${s.topic}-${s.partition}: the target holds part of a batch of this mirror (sequence ${it.seq}); it cannot be resent`,
        );
      }
      if (left > 0) {
        it.state = 'acked';
        left -= it.span;
        covered++;
      } else {
        it.state = 'queued';
      }
    }
    // The stored ones are the front: counted as written. Everything after them goes again, in order.
    s.sent = covered;
    this.settle(s);
    if (left > 0) {
      // Past every batch this run had read: the rest of the way is counted on the source.
      if (!(await this.walk(s, left))) {
        throw new KafkaJSNonRetriableError(
          `${s.topic}-${s.partition}: the target holds ${left} record(s) of this mirror that the source no longer has`,
        );
      }
    }
    s.failed = false;
    s.retryAt = Date.now() + Math.min(1000, 50 * 2 ** (s.attempts - 1));
    this.emit('warning', `${s.topic}-${s.partition}: ${what}; resending from source offset ${s.next}`);
  }

  // ------------------------------------------------------------ progress

  private async commit(): Promise<void> {
    await this.commitStates([...this.parts.values()], false);
  }

  private async commitStates(states: PartitionState[], force: boolean): Promise<void> {
    this.lastCommit = Date.now();
    const changed = states.filter((s) => force || s.next !== s.committed || metaText(s) !== s.committedMeta);
    if (changed.length === 0) return;
    const offsets = changed.map((s) => ({
      topic: s.topic,
      partition: s.partition,
      // The group's offset is a position in the target's own log (see the README: tools show a true lag).
      offset: s.t,
      metadata: metaText(s),
    }));
    // What this commit says, recorded as committed once it succeeds (the state moves on meanwhile).
    const said = changed.map((s) => ({ next: s.next, meta: metaText(s) }));
    const code = await this.target.commit(this.groupId, offsets, this.membership.identity());
    if (code !== 0) {
      if (this.membership.checkFenced(code) && this.membership.fenced !== null) throw this.membership.fenced;
      throw new KafkaJSNonRetriableError(
        `committing the mirror's progress to group ${this.groupId} failed with error ${code}`,
      );
    }
    for (let i = 0; i < changed.length; i++) {
      const s = changed[i] as PartitionState;
      const c = said[i] as { next: number; meta: string };
      s.committed = c.next;
      s.committedMeta = c.meta;
    }
  }
}

/** Whether a config key means something on a target of this kind (see PORTABLE_CONFIGS). */
function carries(kind: 'local' | 'remote', k: string): boolean {
  if (kind === 'local') return PORTABLE_CONFIGS.has(k);
  return !ENGINE_ONLY_CONFIGS.has(k);
}

function newState(
  f: { topic: string; partition: number },
  p: number,
  e: number,
  next: number,
  seq: number,
  t: number,
  highWatermark: number,
): PartitionState {
  return {
    topic: f.topic,
    partition: f.partition,
    p,
    e,
    next,
    seq,
    t,
    readAt: next,
    sendSeq: seq,
    items: [],
    sent: 0,
    failed: false,
    attempts: 0,
    retryAt: 0,
    committed: next,
    committedMeta: '',
    highWatermark,
  };
}

function resumeEvent(s: PartitionState, committed: number, recovered: number): MirrorResume {
  return {
    topic: s.topic,
    partition: s.partition,
    committed,
    position: s.next,
    recovered,
    producerId: s.p,
    producerEpoch: s.e,
  };
}

/** The commit metadata of a partition's acknowledged progress (with its target position, the offset). */
function metaText(s: PartitionState): string {
  const m: Meta = { v: 2, p: s.p, e: s.e, n: s.next, q: s.seq };
  return `${JSON.stringify(m)}`;
}

/**
 * A commit's progress: version 2 (offset = target position), or the first
 * version's (offset = source offset, `o` the source offset of sequence 0,
 * `t` the target position), read so a mirror started by an older release
 * resumes where it stopped.
 */
function parseMeta(
  text: string,
  offset: number,
): { p: number; e: number; n: number; q: number; t: number } | null {
  try {
    const m = JSON.parse(text) as Record<string, unknown>;
    const int = (v: unknown, max = Number.MAX_SAFE_INTEGER) =>
      Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;
    if (!int(m.p) || !int(m.e, EPOCH_MAX)) return null;
    const p = m.p as number;
    const e = m.e as number;
    if (m.v === 2) {
      if (!int(m.n) || !int(m.q, SEQUENCE_SPAN - 1)) return null;
      return { p, e, n: m.n as number, q: m.q as number, t: offset };
    }
    if (m.v !== undefined || !int(m.o) || !int(m.t)) return null;
    return { p, e, n: offset, q: mod(offset - (m.o as number)), t: m.t as number };
  } catch {
    return null;
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function positive(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1)
    throw new InvalidArgumentError(`${name} must be a positive integer, not ${String(v)}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0)
    throw new InvalidArgumentError(`${name} must be a non-negative integer, not ${String(v)}`);
  return v;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
