/**
 * The sender: turns a flush's queues into RecordBatches (at most
 * `batch.size` bytes each, one compression per queue), frames them with the
 * idempotent producer's sequences, hands all of them to the transport in
 * one call, and settles the sends from the answers: acks decide when
 * (appended, or durable for acks -1), and a partial failure says what was
 * written and what not. kafkajs does this in sendMessages.js.
 *
 * Order: batches of one partition reach the transport in the order they
 * were made. A flush that must wait (an async codec, a retry, a new producer
 * identity, a remote request in flight) holds the `tail`, and
 * later flushes queue behind it; otherwise a flush is written in the
 * caller's turn, with no promise made when acks need none.
 */
import type { Logger } from '../client/logger';
import { type RetryOptions, withRetry } from '../client/retry';
import { CompressionTypes, compressRecords } from '../codec/compression';
import { EncodeArena, type EncodedRecords, encodeColumns, writeHeaderFields } from '../codec/encoder';
import { HEADER_BYTES } from '../codec/format';
import { KafkaJSError, KafkaJSPartialSendError } from '../errors';
import type { Part, Queue, SendOp } from './queue';
import {
  NOT_SENT,
  type ProduceFrame,
  type ProduceResult,
  type ProducerIdentity,
  type ProducerTransport,
} from './transport';
import type { RecordMetadata } from './types';

const SEQUENCE_LIMIT = 2 ** 31;
/** The most encoding memory the sender keeps between flushes (one flush may take more, then lets it go). */
const ARENA_KEEP_BYTES_MAX = 4 << 20;
const PRODUCE_TIMEOUT_MS = 30_000;

/** One batch of a flush: records [from, to) of a queue. */
interface Batch {
  q: Queue;
  parts: Part[];
  from: number;
  to: number;
  bytes: number;
  enc: EncodedRecords;
  body: Buffer | Promise<Buffer>;
  frame: ProduceFrame | null;
  baseSequence: number;
  identity: ProducerIdentity | null;
}

/** What a dispatch leaves pending: `ordered` holds later flushes back, `done` settles the sends. */
interface Dispatched {
  ordered: Promise<void> | null;
  done: Promise<void> | null;
  /** Whether the transport answered at once, so it holds none of the frames' bytes now. */
  copied: boolean;
}

/** A dispatch that left nothing pending (shared: never written to). */
const NOTHING_PENDING: Dispatched = { ordered: null, done: null, copied: true };

export interface SenderOptions {
  transport: ProducerTransport;
  retry: RetryOptions | undefined;
  logger: Logger;
  idempotent: boolean;
  batchBytes: number;
  /** Returns bytes to the accumulator's memory bound. */
  release: (bytes: number) => void;
  /** Emits the REQUEST instrumentation event for one transport call. */
  request: (frames: ProduceFrame[]) => void;
}

export class Sender {
  private readonly o: SenderOptions;
  /** The idempotent producer's identity; null otherwise. */
  identity: ProducerIdentity | null = null;
  /** The next sequence per partition (`topic\0partition`), for an idempotent producer. */
  private readonly sequences = new Map<string, number>();
  /** Settles when later flushes may be written; null when they may be at once. */
  private tail: Promise<void> | null = null;
  /**
   * Where uncompressed batches are encoded when the transport copies
   * frames before it answers; null while a flush still holds its memory
   * (a retry, a wait), and then the next flush starts a new one.
   */
  private arena: EncodeArena | null = null;

  constructor(options: SenderOptions) {
    this.o = options;
  }

  /** What later flushes would wait for (never rejects); null when a flush is written at once. */
  busy(): Promise<void> | null {
    return this.tail;
  }

  /** Writes a flush's queues; returns what settles once their sends are settled, or null if they are. */
  send(queues: Queue[]): Promise<void> | null {
    const batches: Batch[] = [];
    let encoding = false;
    // Lent to this flush; given back below only when no batch outlives it.
    const arena =
      this.tail === null && this.o.transport.copiesFrames ? (this.arena ?? new EncodeArena()) : null;
    this.arena = null;
    for (const q of queues) {
      if (this.split(q, batches, arena)) encoding = true;
    }
    if (batches.length === 0) {
      this.giveBack(arena);
      return null;
    }
    if (this.tail === null && !encoding) {
      const r = this.dispatch(batches);
      // A retry or a frame sent later keeps its bytes: the arena stays with them.
      if (r.ordered !== null) this.hold(r.ordered);
      else if (r.copied) this.giveBack(arena);
      return r.done;
    }
    let done: Promise<void> | null = null;
    const chained = (this.tail ?? Promise.resolve()).then(async () => {
      const ready: Batch[] = [];
      for (const b of batches) {
        if (b.body instanceof Promise) {
          try {
            b.body = await b.body;
          } catch (e) {
            this.rejected(b, e as Error, false);
            continue;
          }
        }
        ready.push(b);
      }
      if (ready.length === 0) return;
      const r = this.dispatch(ready);
      done = r.done;
      if (r.ordered !== null) await r.ordered;
    });
    this.hold(chained);
    return chained.then(() => done ?? undefined);
  }

  /** The arena's batches are all dead: the next flush reuses it (or starts a new one). */
  private giveBack(arena: EncodeArena | null): void {
    if (arena === null) return;
    arena.reset(ARENA_KEEP_BYTES_MAX);
    this.arena = arena;
  }

  /** Makes later flushes wait for `p` as well as for what they already waited for. */
  private hold(p: Promise<void>): void {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    const prev = this.tail;
    const t = prev === null ? settled : Promise.all([prev, settled]).then(() => undefined);
    this.tail = t;
    void t.then(() => {
      if (this.tail === t) this.tail = null;
    });
  }

  /** Cuts a queue into batches of at most batch.size and encodes them; true when a codec is async. */
  private split(q: Queue, out: Batch[], arena: EncodeArena | null): boolean {
    const limit = Math.max(1, Math.min(this.o.batchBytes, q.info.batchBytesMax - HEADER_BYTES));
    const parts = q.parts;
    let encoding = false;
    let pi = 0;
    let from = 0;
    const sizes = q.records.sizes;
    const n = q.records.n;
    while (from < n) {
      let to = from;
      let bytes = 0;
      while (to < n && (to === from || bytes + (sizes[to] as number) <= limit)) {
        bytes += sizes[to] as number;
        to++;
      }
      // Parts lie in the queue in order of their start: walk them once.
      while (pi < parts.length && (parts[pi] as Part).start + (parts[pi] as Part).count <= from) pi++;
      const covered = partsIn(parts, pi, to);
      let enc: EncodedRecords;
      let body: Buffer | Promise<Buffer>;
      try {
        if (q.compression === CompressionTypes.None) {
          enc = encodeColumns(q.records, HEADER_BYTES, from, to, arena);
          body = enc.buf;
        } else {
          enc = encodeColumns(q.records, 0, from, to);
          body = compressRecords(q.compression, enc.buf);
          if (body instanceof Promise) encoding = true;
        }
        out.push({
          q,
          parts: covered,
          from,
          to,
          bytes,
          enc,
          body,
          frame: null,
          baseSequence: -1,
          identity: null,
        });
      } catch (e) {
        this.failParts(covered, e as Error, from, to);
        this.o.release(bytes);
      }
      from = to;
    }
    return encoding;
  }

  /** Frames the batches (taking sequences) and hands them to the transport in one call. */
  private dispatch(batches: Batch[]): Dispatched {
    let acks: -1 | 0 | 1 = 0;
    const frames: ProduceFrame[] = new Array(batches.length);
    let framed = 0;
    // The batches that were framed: `batches` itself unless one failed.
    let live = batches;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i] as Batch;
      for (const p of b.parts) {
        if (p.op.acks === -1) acks = -1;
        else if (p.op.acks === 1 && acks === 0) acks = 1;
      }
      try {
        b.frame = this.frame(b);
      } catch (e) {
        this.rejected(b, e as Error, false);
        if (live === batches) live = batches.slice(0, i);
        continue;
      }
      frames[framed++] = b.frame;
      if (live !== batches) live.push(b);
    }
    if (framed < frames.length) frames.length = framed;
    if (live.length === 0) return NOTHING_PENDING;
    let results: ProduceResult[] | Promise<ProduceResult[]>;
    try {
      results = this.o.transport.produce(acks, PRODUCE_TIMEOUT_MS, frames);
    } catch (e) {
      results = Promise.reject(e);
    }
    this.o.request(frames);
    if (results instanceof Promise) {
      const done = results.then(
        (rs) => this.answered(live, rs, acks),
        (e: Error) => {
          // The whole call failed: the batches' fate is unknown.
          for (const b of live) this.rejected(b, e, true);
        },
      );
      const settled = done.then((r) => (r?.done ?? undefined) as Promise<void> | undefined);
      // The next call waits for this one's answer: two calls in flight may
      // reach the brokers in either order (the client runs each on a task of
      // its own), and a partition's batches must land in the order they were
      // made; an idempotent producer's sequences also depend on what this
      // call's batches became. Meanwhile new sends gather into the next
      // flush, so waiting costs batches, not throughput.
      return { ordered: done.then((r) => r?.ordered ?? undefined), done: settled, copied: false };
    }
    return this.answered(live, results, acks);
  }

  /** Frames one batch: its header, with the partition's next sequence for an idempotent producer. */
  private frame(b: Batch): ProduceFrame {
    const q = b.q;
    const count = b.to - b.from;
    let producerId = -1;
    let producerEpoch = -1;
    let baseSequence = -1;
    const id = this.identity;
    if (this.o.idempotent && id !== null) {
      const key = `${q.topic}\u0000${q.partition}`;
      const sequence = this.sequences.get(key) ?? 0;
      this.sequences.set(key, (sequence + count) % SEQUENCE_LIMIT);
      b.baseSequence = sequence;
      b.identity = id;
      producerId = id.producerId;
      producerEpoch = id.producerEpoch;
      baseSequence = sequence;
    }
    const enc = b.enc;
    let batch: Buffer;
    if (q.compression === CompressionTypes.None) {
      batch = b.body as Buffer;
    } else {
      // The compressed records after room for the header.
      const body = b.body as Buffer;
      batch = Buffer.allocUnsafe(HEADER_BYTES + body.byteLength);
      batch.set(body, HEADER_BYTES);
    }
    writeHeaderFields(
      batch,
      enc.count,
      enc.baseTimestamp,
      enc.maxTimestamp,
      q.compression,
      producerId,
      producerEpoch,
      baseSequence,
    );
    return { topic: q.topic, partition: q.partition, batch, count };
  }

  /** Settles the batches of one call from its results; what is left pending (retries, fsyncs) is returned. */
  private answered(batches: Batch[], results: ProduceResult[], acks: -1 | 0 | 1): Dispatched {
    // Frames the transport did not try give their sequences back first, so
    // a failed batch before them can tell it was its partition's last.
    let skipped: Batch[] | null = null;
    for (let i = 0; i < batches.length; i++) {
      if (results[i]?.error !== NOT_SENT) continue;
      const b = batches[i] as Batch;
      skipped ??= [];
      skipped.push(b);
      if (b.identity === null || b.identity !== this.identity) continue;
      // A partition's skipped frames are its last ones, framed one after the
      // other: the first of them takes the partition's sequence back to its own.
      if (skipped.some((x) => x !== b && x.q.topic === b.q.topic && x.q.partition === b.q.partition))
        continue;
      this.sequences.set(`${b.q.topic}\u0000${b.q.partition}`, b.baseSequence);
    }
    let ordered: Promise<void>[] | null = null;
    let done: Promise<void>[] | null = null;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i] as Batch;
      const r = results[i];
      if (r === undefined) {
        this.rejected(b, new KafkaJSError('the transport gave no answer for a batch'), true);
        continue;
      }
      if (r.error === NOT_SENT) continue;
      if (r.error === null) {
        const d = this.appended(b, r);
        if (d !== null) {
          done ??= [];
          done.push(d);
        }
        continue;
      }
      if (retriable(r.error) && !this.o.transport.retriesInside) {
        // The same bytes again, so the same sequence: a write that landed
        // after all is recognised as a duplicate.
        const frame = b.frame as ProduceFrame;
        const retried = withRetry(this.o.retry, () => this.produceOne(acks, frame), r.error).then(
          (r2) => this.appended(b, r2) ?? undefined,
          // Whatever the last error, the first attempt's outcome is unknown.
          (e: Error) => this.rejected(b, e, true),
        );
        ordered ??= [];
        ordered.push(retried);
        done ??= [];
        done.push(retried);
        continue;
      }
      this.rejected(b, r.error, retriable(r.error));
    }
    if (skipped !== null) {
      // Written once what held them back is settled, framed afresh (the
      // producer's identity may have changed meanwhile).
      const later = skipped;
      const again = Promise.all(ordered ?? []).then(() => {
        const r = this.dispatch(later);
        return Promise.all([r.ordered, r.done]).then(() => undefined);
      });
      ordered ??= [];
      ordered.push(again);
      done ??= [];
      done.push(again);
    }
    if (ordered === null && done === null) return NOTHING_PENDING;
    return {
      ordered: ordered === null ? null : Promise.all(ordered).then(() => undefined),
      done: done === null ? null : Promise.all(done).then(() => undefined),
      copied: true,
    };
  }

  private produceOne(acks: -1 | 0 | 1, frame: ProduceFrame): ProduceResult | Promise<ProduceResult> {
    const one = (rs: ProduceResult[]): ProduceResult => {
      const r = rs[0];
      if (r === undefined) throw new KafkaJSError('the transport gave no answer for a batch');
      if (r.error !== null) throw r.error;
      return r;
    };
    const rs = this.o.transport.produce(acks, PRODUCE_TIMEOUT_MS, [frame]);
    this.o.request([frame]);
    return rs instanceof Promise ? rs.then(one) : one(rs);
  }

  /**
   * A batch failed. Its sequence is given back when nothing was framed
   * after it on its partition (the log never took it); when its fate is
   * unknown (`unknown`: a retriable failure, or a whole call lost), the
   * producer takes a new identity instead, as Kafka's KIP-360 does: reusing
   * the sequence could make the log drop the next batch as a duplicate of
   * one it holds, and skipping it would be out of order if it does not.
   */
  private rejected(b: Batch, e: Error, unknown: boolean): void {
    this.failParts(b.parts, e, b.from, b.to);
    this.o.release(b.bytes);
    const id = b.identity;
    if (!this.o.idempotent || id === null || id !== this.identity) return;
    const key = `${b.q.topic}\u0000${b.q.partition}`;
    if (!unknown && this.sequences.get(key) === (b.baseSequence + (b.to - b.from)) % SEQUENCE_LIMIT) {
      this.sequences.set(key, b.baseSequence);
      return;
    }
    this.renew(id);
  }

  private renew(old: ProducerIdentity): void {
    if (this.identity !== old) return;
    this.sequences.clear();
    let next: ProducerIdentity | Promise<ProducerIdentity>;
    try {
      next = this.o.transport.renewProducerId(old);
    } catch (e) {
      this.o.logger.error('cannot get a new producer id; keeping the old one', {
        error: (e as Error).message,
      });
      return;
    }
    if (!(next instanceof Promise)) {
      this.identity = next;
      return;
    }
    // Later flushes wait for the new identity.
    this.hold(
      next.then(
        (id) => {
          if (this.identity === old) this.identity = id;
        },
        (e: Error) =>
          this.o.logger.error('cannot get a new producer id; keeping the old one', { error: e.message }),
      ),
    );
  }

  /** After a batch was taken: waits for durability where acks need it, then settles the parts. */
  private appended(b: Batch, r: ProduceResult): Promise<void> | null {
    const { parts, from, to } = b;
    this.o.release(b.bytes);
    for (const p of parts) {
      const first = Math.max(from, p.start);
      if (p.baseOffset < 0) p.baseOffset = r.baseOffset + (first - from);
      p.appended += Math.min(to, p.start + p.count) - first;
    }
    if (r.durable === null || !needsFsync(parts)) {
      this.settleParts(b, r);
      return null;
    }
    return r.durable.then(
      () => this.settleParts(b, r),
      (e: Error) => this.failParts(parts, e, from, to),
    );
  }

  /** The batch's records are taken (and durable where acks need it): their parts are done. */
  private settleParts(b: Batch, r: ProduceResult): void {
    const { parts, from, to } = b;
    for (const p of parts) {
      const covered = Math.min(to, p.start + p.count) - Math.max(from, p.start);
      p.done += covered;
      if (p.done + p.lost === p.count) this.partSettled(p, r);
    }
  }

  /** Once each record of a part succeeded or failed: the part's result. */
  private partSettled(p: Part, r: ProduceResult | null): void {
    const op = p.op;
    if (op.settled) return;
    if (p.failed !== null || r === null) {
      if (op.failures === null) op.failures = [];
      op.failures.push(p);
      op.remaining--;
      if (op.remaining === 0) settleOp(op);
      return;
    }
    const q = p.queue;
    const meta: RecordMetadata = {
      topicName: q.topic,
      partition: q.partition,
      errorCode: 0,
      baseOffset: String(p.baseOffset),
      logAppendTime: r.logAppendTime === -1 ? '-1' : String(r.logAppendTime),
      logStartOffset: r.logStartOffset === 0 ? '0' : String(r.logStartOffset),
    };
    if (op.results === null) op.results = [meta];
    else op.results.push(meta);
    op.remaining--;
    if (op.remaining === 0) settleOp(op);
  }

  /**
   * Records [from, to) of a queue failed with `e`. A part settles once each
   * of its records has (a later batch of it may still be on its way), and a
   * send once each of its parts has.
   */
  failParts(parts: Part[], e: Error, from: number, to: number): void {
    for (const p of parts) {
      if (p.op.settled) continue;
      if (p.failed === null) p.failed = e;
      p.lost += Math.min(to, p.start + p.count) - Math.max(from, p.start);
      if (p.done + p.lost === p.count) this.partSettled(p, null);
    }
  }
}

/**
 * The unsettled parts from index `at` that start before record `to`. A
 * queue that makes one batch (most do) hands over its own array when none
 * of its parts is settled, with nothing copied.
 */
function partsIn(parts: Part[], at: number, to: number): Part[] {
  let end = at;
  let settled = false;
  while (end < parts.length && (parts[end] as Part).start < to) {
    if ((parts[end] as Part).op.settled) settled = true;
    end++;
  }
  if (!settled && at === 0 && end === parts.length) return parts;
  const out: Part[] = [];
  for (let j = at; j < end; j++) {
    const p = parts[j] as Part;
    if (!p.op.settled) out.push(p);
  }
  return out;
}

function needsFsync(parts: Part[]): boolean {
  for (const p of parts) if (p.op.acks === -1) return true;
  return false;
}

function retriable(e: Error): boolean {
  return e instanceof KafkaJSError && e.retriable;
}

/**
 * Settles a send whose parts are all settled. When some failed, it rejects
 * with the first error as it is if the send wrote nothing, and otherwise
 * with a KafkaJSPartialSendError saying what was written and what not.
 */
function settleOp(op: SendOp): void {
  op.settled = true;
  const byPartition = (a: RecordMetadata, b: RecordMetadata) =>
    a.topicName === b.topicName ? a.partition - b.partition : a.topicName < b.topicName ? -1 : 1;
  const results = op.results ?? [];
  if (results.length > 1) results.sort(byPartition);
  const failures = op.failures;
  if (failures === null) {
    op.resolve(results);
    return;
  }
  const first = failures[0] as Part;
  if (results.length === 0 && failures.every((p) => p.appended === 0)) {
    op.reject(first.failed as Error);
    return;
  }
  const failed = failures.map((p) => {
    const error = p.failed as Error;
    const f: KafkaJSPartialSendError['failed'][number] = {
      topicName: p.queue.topic,
      partition: p.queue.partition,
      errorCode: kafkaErrorCode(error),
      error,
      written: p.appended,
    };
    if (p.appended > 0) f.baseOffset = String(p.baseOffset);
    return f;
  });
  failed.sort(byPartition);
  op.reject(new KafkaJSPartialSendError(results, failed));
}

/** Kafka's error code for a failed batch, for per-partition results. */
function kafkaErrorCode(e: Error): number {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'number') return code;
  switch (code) {
    case 'ERR_IO':
    case 'ERR_FSYNC_FAILED':
    case 'ERR_SEGMENT_FULL':
      return 56; // KAFKA_STORAGE_ERROR
    case 'ERR_MESSAGE_TOO_LARGE':
      return 10;
    case 'ERR_CORRUPT':
    case 'ERR_INVALID_BATCH':
      return 2; // CORRUPT_MESSAGE
    case 'ERR_UNKNOWN_TOPIC_OR_PARTITION':
      return 3;
    case 'ERR_OUT_OF_ORDER_SEQUENCE':
      return 45;
    case 'ERR_INVALID_PRODUCER_EPOCH':
      return 47;
    default:
      return -1; // UNKNOWN_SERVER_ERROR
  }
}
