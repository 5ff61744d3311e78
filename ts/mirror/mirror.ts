/**
 * `Mirror`: copies topics from one end (a data directory or Kafka brokers)
 * to another, forwarding the stored RecordBatches as they are.
 *
 * Exactly once across kills, and why it is built this way
 * -------------------------------------------------------
 * The mirror writes as an idempotent producer whose identity it keeps: per
 * partition, a producer id (from the target: InitProducerId on Kafka, the
 * engine's allocator locally), an epoch, and an `origin`, the source offset
 * that sequence 0 stands for. Each forwarded batch gets the base sequence
 * `baseOffset - origin` (mod 2^31), so its sequences are its source offsets
 * shifted: the target's own log then says how far the mirror got, batch by
 * batch, in bytes it stored atomically with the data.
 *
 * Progress is committed (source offsets, in a group named after the mirror,
 * on the target) every `commitIntervalMs`, with the producer id, epoch,
 * origin and the target's log end as the commit metadata. On start, each
 * partition resumes from the committed offset, then reads the target's log
 * from the committed target end to its end, and moves past every batch of
 * its own producer id and epoch it finds there (`origin + lastSequence + 1`).
 * That is the resume point "derived from the target's own log": it needs no
 * producer state API on the target (ferrolog's broker has no
 * DescribeProducers yet, and producer state expires after
 * `producer.id.expiration.ms`), and what it reads cannot disagree with what
 * was stored. A crash between a write and its commit therefore writes
 * nothing twice.
 *
 * The producer id and epoch are reused after a restart (never a fresh id)
 * for the one case the log cannot settle: a produce request the killed
 * process had in flight that the broker appends after the new process read
 * the tail. Its batches carry the same (id, epoch, sequence) as the ones the
 * new process resends, so Kafka's (and the engine's) duplicate check on the
 * last five batches of a producer drops whichever arrives second. The
 * mirror has at most one produce request per partition in flight (a round's
 * batches for one partition go one request after the other: Kafka takes one
 * batch per partition per request), well within those five.
 *
 * Kafka accepts a sequence only right after the previous one of the same
 * epoch (ProducerAppendInfo.checkSequence); a higher epoch must start at 0.
 * So where the source skips offsets (a control batch left out, a compacted
 * or deleted range), the mirror moves to the next epoch with a new origin
 * and commits that before writing with it; the resume rule above then
 * holds per epoch.
 */
import { EventEmitter } from 'node:events';
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
  type OutgoingBatch,
  PORTABLE_CONFIGS,
} from './endpoints';

export interface MirrorOptions {
  /** The mirror's name; its progress is the group `ferrolog-mirror.<name>` on the target (default `default`). */
  name?: string;
  /** Which source topics to copy (default: every topic not starting with `__`). */
  topics?: RegExp | string;
  /** Bytes read per partition per round (default 1 MiB; at least one batch). */
  maxBytesPerPartition?: number;
  /** How long a read waits for new data when there is none (default 500 ms). */
  maxWaitMs?: number;
  /** How often progress is committed (default 1000 ms). */
  commitIntervalMs?: number;
  /** How often new topics and partitions are looked for (default 5000 ms). */
  topicRefreshMs?: number;
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
  /** Records found on the target past the committed offset (written, not yet committed, before a stop). */
  recovered: number;
  producerId: number;
  producerEpoch: number;
}

/** Events: 'topic' ({ topic, action, partitions, warnings }), 'resume' (MirrorResume), 'lag' ({ partitions, total, copied }), 'warning' (string), 'caughtUp', 'stopped'. */
export type MirrorEvent = 'topic' | 'resume' | 'lag' | 'warning' | 'caughtUp' | 'stopped';

interface Meta {
  /** Producer id. */
  p: number;
  /** Epoch. */
  e: number;
  /** Origin: the source offset of sequence 0 in this epoch. */
  o: number;
  /** The target's log end after the mirror's last acknowledged write, where a resume scan starts. */
  t: number;
}

interface PartitionState {
  topic: string;
  partition: number;
  meta: Meta;
  /** Next source offset to forward. */
  next: number;
  committed: number;
  /** What the last commit said, to skip commits that change nothing. */
  committedMeta: string;
  highWatermark: number;
}

const EPOCH_MAX = 32767;
const WRITE_ATTEMPTS = 10;

export function mirrorGroupId(name: string): string {
  return `ferrolog-mirror.${name}`;
}

export class Mirror extends EventEmitter {
  readonly name: string;
  readonly groupId: string;
  private readonly source: Endpoint;
  private readonly target: Endpoint;
  private readonly filter: RegExp | null;
  private readonly maxBytes: number;
  private readonly maxWaitMs: number;
  private readonly commitIntervalMs: number;
  private readonly topicRefreshMs: number;
  private readonly stopWhenCaughtUp: boolean;
  private readonly parts = new Map<string, PartitionState>();
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private stopping = false;
  private copied = 0;
  private rounds = 0;
  private lastCommit = 0;
  private lastRefresh = 0;
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
    this.maxBytes = positive('maxBytesPerPartition', options.maxBytesPerPartition ?? 1 << 20);
    this.maxWaitMs = nonNegative('maxWaitMs', options.maxWaitMs ?? 500);
    this.commitIntervalMs = nonNegative('commitIntervalMs', options.commitIntervalMs ?? 1000);
    this.topicRefreshMs = nonNegative('topicRefreshMs', options.topicRefreshMs ?? 5000);
    this.stopWhenCaughtUp = options.stopWhenCaughtUp === true;
    // An EventEmitter throws on 'error' with no listener; the mirror reports errors through run() instead.
  }

  /** Copies until `stop()` (or, with `stopWhenCaughtUp`, until the lag is 0); rejects on a fatal error. */
  run(): Promise<void> {
    if (this.running === null) {
      this.running = this.loop().finally(async () => {
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

  private async loop(): Promise<void> {
    await this.refreshTopics();
    // What resume found is committed already (or on the target): the first commit is due one interval on.
    this.lastCommit = Date.now();
    while (!this.stopping) {
      if (Date.now() - this.lastRefresh >= this.topicRefreshMs) await this.refreshTopics();
      const progressed = await this.round();
      if (Date.now() - this.lastCommit >= this.commitIntervalMs) await this.commit();
      // After the commit, so an event's `committed` is what a kill right after it would leave.
      const lag = this.lag();
      const total = lag.reduce((n, p) => n + p.lag, 0);
      this.emit('lag', { partitions: lag, total, copied: this.copied });
      if (total === 0 && !progressed) {
        if (this.stopWhenCaughtUp) {
          await this.commit();
          this.emit('caughtUp');
          break;
        }
      }
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
      const meta = c !== undefined && c.offset >= 0 ? parseMeta(c.metadata) : null;
      let state: PartitionState;
      if (c === undefined || c.offset < 0 || meta === null) {
        if (c !== undefined && c.offset >= 0) {
          this.emit(
            'warning',
            `${f.topic}-${f.partition}: committed offset ${c.offset} has no mirror metadata; starting there`,
          );
        }
        // A first start: a producer identity of its own, committed before anything is written with it.
        const start = c !== undefined && c.offset >= 0 ? c.offset : so.start;
        const targetEnd = (await this.target.offsets([f]))[0]?.end ?? 0;
        state = {
          topic: f.topic,
          partition: f.partition,
          meta: { p: await this.producerId(), e: 0, o: start, t: targetEnd },
          next: start,
          committed: -1,
          committedMeta: '',
          highWatermark: so.end,
        };
        toCommit.push(state);
        this.parts.set(key(f.topic, f.partition), state);
        this.emit('resume', resumeEvent(state, -1, 0));
        continue;
      }
      state = {
        topic: f.topic,
        partition: f.partition,
        meta,
        next: c.offset,
        committed: c.offset,
        committedMeta: JSON.stringify(meta),
        highWatermark: so.end,
      };
      const found = await this.scanTarget(state);
      const recovered = Math.max(0, found - state.next);
      if (found > state.next) state.next = found;
      this.parts.set(key(f.topic, f.partition), state);
      this.emit('resume', resumeEvent(state, c.offset, recovered));
    }
    if (toCommit.length > 0) await this.commitStates(toCommit, true);
  }

  private async producerId(): Promise<number> {
    if (this.freshProducerId === null) this.freshProducerId = await this.target.newProducerId();
    return this.freshProducerId;
  }

  /**
   * Reads the target partition from the committed target end to its log end
   * and returns the source offset after the last batch there with this
   * partition's producer id and epoch (or -1 when there is none).
   */
  private async scanTarget(s: PartitionState): Promise<number> {
    const [w] = await this.target.offsets([s]);
    if (w === undefined) return -1;
    let at = Math.max(s.meta.t, w.start);
    let best = -1;
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
        if (b.producerId !== s.meta.p || b.producerEpoch !== s.meta.e) continue;
        const last = lastSequence(b.baseSequence, b.lastOffset - b.baseOffset);
        // The source offset after this batch: origin + last + 1, taken in the lap of 2^31 sequences
        // nearest the position (a scan covers far less than a lap).
        const lap = Math.floor((s.next - s.meta.o) / SEQUENCE_SPAN);
        let after = s.meta.o + lap * SEQUENCE_SPAN + last + 1;
        if (after < s.next - SEQUENCE_SPAN / 2) after += SEQUENCE_SPAN;
        if (after > best) best = after;
      }
      const end = (batches[batches.length - 1] as BatchRef).lastOffset + 1;
      if (end <= at) break;
      at = end;
      // The target end only grows while scanning: use what it was, others' writes since are not ours.
    }
    // The next scan (after an OUT_OF_ORDER_SEQUENCE) need not read this range again.
    s.meta.t = Math.max(s.meta.t, Math.min(at, w.end));
    return best;
  }

  // ------------------------------------------------------------ copying

  /** One read of every partition, one write of what came back. Returns whether anything was copied. */
  private async round(): Promise<boolean> {
    // A different partition first each round: a fetch's total byte limit then starves none.
    const all = [...this.parts.values()];
    const first = this.rounds++ % Math.max(1, all.length);
    const states = [...all.slice(first), ...all.slice(0, first)];
    if (states.length === 0) {
      await sleep(Math.min(this.maxWaitMs, 200), this.abort.signal);
      return false;
    }
    let reads: Awaited<ReturnType<Endpoint['read']>>;
    try {
      reads = await this.source.read(
        states.map((s) => ({ topic: s.topic, partition: s.partition, offset: s.next })),
        this.maxBytes,
        this.maxWaitMs,
        this.abort.signal,
      );
    } catch (e) {
      if (this.stopping) return false;
      throw e;
    }
    const plan: { s: PartitionState; batches: { b: BatchRef; records: Buffer }[] }[] = [];
    const bumps: { s: PartitionState; base: number }[] = [];
    let stalled = false;
    for (const r of reads) {
      const s = this.parts.get(key(r.topic, r.partition));
      if (s === undefined) continue;
      s.highWatermark = r.highWatermark;
      if (r.errorCode === KafkaErrorCode.OFFSET_OUT_OF_RANGE) {
        // Out of range: the source deleted what was not copied yet (retention). Nothing to do but move on.
        if (s.next < r.logStartOffset) {
          this.emit(
            'warning',
            `${s.topic}-${s.partition}: offsets ${s.next}..${r.logStartOffset - 1} were deleted from the source before being copied`,
          );
          s.next = r.logStartOffset;
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
      const out: { b: BatchRef; records: Buffer }[] = [];
      let expected = s.next;
      /** Past the control batches met before any data: where a gap ends. */
      let skippedTo = -1;
      let bumpAt = -1;
      for (const b of wholeBatches(r.chunk)) {
        if (b.lastOffset < s.next) continue;
        if (b.isControl) {
          // Transaction markers are the source's, not data: they are left out, which leaves a gap
          // in the offsets (so in the sequences) for the next data batch.
          if (out.length > 0) break;
          skippedTo = b.lastOffset + 1;
          continue;
        }
        if (b.isTransactional) {
          const outcome = await this.transactionOutcome(s, b);
          if (outcome === 'open') {
            // Its marker is not readable yet: copy up to here and come back.
            stalled = true;
            break;
          }
          if (outcome === 'abort') {
            // Aborted records are not data either: left out like the markers.
            if (out.length > 0) break;
            skippedTo = b.lastOffset + 1;
            continue;
          }
        }
        // In order: the batch at the position, or (the start fell inside it) the one this epoch's origin is.
        const inOrder =
          skippedTo < 0 &&
          (b.baseOffset === expected ||
            (out.length === 0 && b.baseOffset === s.meta.o && b.baseOffset < expected));
        if (!inOrder) {
          // A gap (or a batch starting before the position): a new epoch with its own origin, committed
          // before the first write with it. Cut the round here; this batch leads the next one.
          if (out.length === 0) bumpAt = b.baseOffset;
          break;
        }
        out.push({ b, records: r.chunk });
        expected = b.lastOffset + 1;
      }
      // Only markers so far: the new epoch starts after them, for whatever data comes next.
      if (out.length === 0 && bumpAt < 0 && skippedTo >= 0) bumpAt = skippedTo;
      if (bumpAt >= 0) bumps.push({ s, base: bumpAt });
      if (out.length > 0) plan.push({ s, batches: out });
    }
    if (bumps.length > 0) {
      for (const { s, base } of bumps) {
        this.bump(s, base);
        if (s.meta.e > EPOCH_MAX) await this.renew(s);
      }
      await this.commitStates(
        bumps.map((x) => x.s),
        true,
      );
    }
    if (stalled && plan.length === 0 && bumps.length === 0) {
      // Only a transaction still open at the source, or a failed read: wait before trying again.
      await sleep(this.maxWaitMs, this.abort.signal);
    }
    if (plan.length === 0) return bumps.length > 0;
    await this.writePlan(plan);
    return true;
  }

  /**
   * Whether the transaction of a source batch committed: its producer's
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

  /**
   * The next epoch, whose sequence 0 is the batch at `base`; the offsets
   * skipped (control batches, deleted or compacted ones) are passed over.
   * `base` is before the position only when the start fell inside a batch
   * (a log start moved by retention or DeleteRecords): that batch is
   * forwarded whole, its records before the position included, since the
   * mirror does not re-encode.
   */
  private bump(s: PartitionState, base: number): void {
    s.meta = { ...s.meta, e: s.meta.e + 1, o: base };
    s.next = Math.max(s.next, base);
  }

  /** Past the last epoch: a new producer id from the target, epoch 0. */
  private async renew(s: PartitionState): Promise<void> {
    s.meta = { ...s.meta, p: await this.target.newProducerId(), e: 0 };
  }

  private async writePlan(
    plan: { s: PartitionState; batches: { b: BatchRef; records: Buffer }[] }[],
  ): Promise<void> {
    // Per partition: the batches still to write, restamped once (resends carry the same sequences).
    const pending = plan.map(({ s, batches }) => ({
      s,
      batches: batches.map(({ b, records }) => {
        const seq = (((b.baseOffset - s.meta.o) % SEQUENCE_SPAN) + SEQUENCE_SPAN) % SEQUENCE_SPAN;
        return {
          b,
          out: {
            topic: s.topic,
            partition: s.partition,
            records: restamp(records, b, s.meta.p, s.meta.e, seq),
          } as OutgoingBatch,
        };
      }),
    }));
    for (let attempt = 0; ; attempt++) {
      const flat = pending.flatMap((p) => p.batches.map((x) => x.out));
      if (flat.length === 0) return;
      const results = await this.target.write(flat);
      let i = 0;
      let retry: string | null = null;
      for (const p of pending) {
        let done = 0;
        for (const x of p.batches) {
          const r = results[i++];
          if (r === undefined)
            throw new KafkaJSNonRetriableError('the target answered fewer batches than were sent');
          if (r.errorCode !== 0) {
            if (r.errorCode === KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER && attempt < WRITE_ATTEMPTS) {
              // OUT_OF_ORDER_SEQUENCE: the target is ahead of us (a write of a killed run landed late):
              // find where from its log, and continue from there.
              await this.realign(p.s);
              retry = `${p.s.topic}-${p.s.partition}: the target was ahead; resumed at ${p.s.next}`;
            } else if (!isRetriableWrite(r.errorCode) || attempt >= WRITE_ATTEMPTS) {
              throw new KafkaJSError(
                `writing ${p.s.topic}-${p.s.partition} to the target failed with error ${r.errorCode}${r.errorMessage ? `: ${r.errorMessage}` : ''}`,
                { retriable: false },
              );
            } else {
              retry = `${p.s.topic}-${p.s.partition}: error ${r.errorCode}; resending`;
            }
            // Everything after a failed batch of this partition is resent with it (order).
            i += p.batches.length - done - 1;
            break;
          }
          done++;
          p.s.next = x.b.lastOffset + 1;
          if (r.nextOffset >= 0) p.s.meta.t = Math.max(p.s.meta.t, r.nextOffset);
          this.copied += x.b.lastOffset - x.b.baseOffset + 1;
        }
        p.batches = p.batches.slice(done).filter((x) => x.b.lastOffset >= p.s.next);
      }
      if (retry === null) return;
      this.emit('warning', retry);
      await sleep(Math.min(1000, 50 * 2 ** attempt), this.abort.signal);
      if (this.stopping) return;
    }
  }

  /** After OUT_OF_ORDER_SEQUENCE: read the target for how far this producer got. */
  private async realign(s: PartitionState): Promise<void> {
    const found = await this.scanTarget(s);
    if (found > s.next) s.next = found;
  }

  // ------------------------------------------------------------ progress

  private async commit(): Promise<void> {
    await this.commitStates([...this.parts.values()], false);
  }

  private async commitStates(states: PartitionState[], force: boolean): Promise<void> {
    this.lastCommit = Date.now();
    const changed = states.filter(
      (s) => force || s.next !== s.committed || JSON.stringify(s.meta) !== s.committedMeta,
    );
    if (changed.length === 0) return;
    const offsets = changed.map((s) => ({
      topic: s.topic,
      partition: s.partition,
      offset: s.next,
      metadata: JSON.stringify(s.meta),
    }));
    await this.target.commit(this.groupId, offsets);
    for (let i = 0; i < changed.length; i++) {
      const s = changed[i] as PartitionState;
      s.committed = (offsets[i] as { offset: number }).offset;
      s.committedMeta = (offsets[i] as { metadata: string }).metadata;
    }
  }
}

/** Whether a config key means something on a target of this kind (see PORTABLE_CONFIGS). */
function carries(kind: 'local' | 'remote', k: string): boolean {
  if (kind === 'local') return PORTABLE_CONFIGS.has(k);
  return !ENGINE_ONLY_CONFIGS.has(k);
}

function resumeEvent(s: PartitionState, committed: number, recovered: number): MirrorResume {
  return {
    topic: s.topic,
    partition: s.partition,
    committed,
    position: s.next,
    recovered,
    producerId: s.meta.p,
    producerEpoch: s.meta.e,
  };
}

function parseMeta(text: string): Meta | null {
  try {
    const m = JSON.parse(text) as Partial<Meta>;
    const ok =
      Number.isSafeInteger(m.p) &&
      (m.p as number) >= 0 &&
      Number.isInteger(m.e) &&
      (m.e as number) >= 0 &&
      (m.e as number) <= EPOCH_MAX &&
      Number.isSafeInteger(m.o) &&
      (m.o as number) >= 0 &&
      Number.isSafeInteger(m.t) &&
      (m.t as number) >= 0;
    return ok ? (m as Meta) : null;
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
