/**
 * The accumulator: staged records wait here, per partition and compression,
 * until a flush hands every queue to the sender at once. Everything queued
 * in the same tick (linger 0), or within `lingerMs`, leaves together, so
 * concurrent sends share batches and one transport call carries the batches
 * of every partition. Memory is bounded: past `maxBufferedBytes` of queued
 * records, `send` waits for room (in order) instead of growing the heap.
 * kafkajs has no accumulator; this is the Java producer's RecordAccumulator.
 */
import { emptyRecords, type Part, pushRecords, type Queue, spliceRecords, truncateRecords } from './queue';

const RESOLVED: Promise<void> = Promise.resolve();
/** The most records a queue's recycled arrays are kept for (about 100 KiB of slots a set, two sets a queue). */
const RECYCLE_MAX_RECORDS = 4096;

export class Accumulator {
  private readonly batchBytes: number;
  private readonly lingerMs: number;
  private readonly maxBufferedBytes: number;
  /** Where a flush's queues go; returns what settles once they are written, or null if that already happened. */
  private readonly drain: (queues: Queue[]) => Promise<void> | null;
  private readonly onDrainError: (e: Error) => void;
  /** What the sender is still busy with (null when idle): queues wait for it, so they leave as one call. */
  private readonly busy: () => Promise<void> | null;
  /** Whether a flush is deferred until the sender is idle. */
  private deferred = false;
  /** Queues holding records, in the order they got their first. */
  private active: Queue[] = [];
  private flushScheduled = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  /** Bytes staged and not yet written (reserved for sends waiting their turn too). */
  buffered = 0;
  private readonly spaceWaiters: { bytes: number; resolve: () => void }[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** `flush` bound once, not a closure per scheduled flush. */
  private readonly flushNow = (): void => this.flush();

  constructor(
    batchBytes: number,
    lingerMs: number,
    maxBufferedBytes: number,
    drain: (queues: Queue[]) => Promise<void> | null,
    onDrainError: (e: Error) => void,
    busy: () => Promise<void> | null,
  ) {
    this.batchBytes = batchBytes;
    this.lingerMs = lingerMs;
    this.maxBufferedBytes = maxBufferedBytes;
    this.drain = drain;
    this.onDrainError = onDrainError;
    this.busy = busy;
  }

  /** Whether a send of `bytes` must wait for room (behind any earlier one waiting). */
  mustWait(bytes: number): boolean {
    return (
      this.spaceWaiters.length > 0 || (this.buffered > 0 && this.buffered + bytes > this.maxBufferedBytes)
    );
  }

  /** Reserves room for a send that need not wait. */
  reserve(bytes: number): void {
    this.buffered += bytes;
  }

  /** Waits until `bytes` fit, in order of arrival, and reserves them. */
  waitForRoom(bytes: number): Promise<void> {
    return new Promise((resolve) => {
      this.spaceWaiters.push({ bytes, resolve });
      // Make sure what is queued is on its way, so room appears.
      this.schedule(true);
    });
  }

  /** Returns bytes to the buffer and admits waiting sends, in order, that now fit. */
  release(bytes: number): void {
    this.buffered -= bytes;
    while (this.spaceWaiters.length > 0) {
      const w = this.spaceWaiters[0] as { bytes: number; resolve: () => void };
      if (this.buffered > 0 && this.buffered + w.bytes > this.maxBufferedBytes) break;
      this.spaceWaiters.shift();
      // Reserve the waiter's bytes now, so the next waiter sees them.
      this.buffered += w.bytes;
      w.resolve();
    }
  }

  /** Queues staged parts (their bytes already reserved) and schedules a flush. */
  append(staged: Part[]): void {
    let full = false;
    for (const part of staged) {
      const q = part.queue;
      if (part.detached !== null) {
        part.start = q.records.n;
        pushRecords(q.records, part.detached, part.count);
        part.detached = null;
      }
      // Exact one-element arrays for the first entry (a push into an empty
      // array reserves room for 17): a single send makes one of each.
      if (q.parts.length === 0) q.parts = [part];
      else q.parts.push(part);
      q.bytes += part.bytes;
      if (!q.active) {
        q.active = true;
        if (this.active.length === 0) this.active = [q];
        else this.active.push(q);
      }
      part.op.remaining++;
      if (q.bytes >= this.batchBytes) full = true;
    }
    // While sends wait for room, flush at once rather than linger.
    if (this.spaceWaiters.length > 0 || this.buffered >= this.maxBufferedBytes) full = true;
    this.schedule(full);
  }

  private schedule(full: boolean): void {
    if (this.lingerMs === 0 || full) {
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // A resolved promise's reaction rather than queueMicrotask, which
        // wraps each callback in an async resource (a few hundred bytes a
        // flush: with single sends, a flush a send).
        RESOLVED.then(this.flushNow);
      }
      return;
    }
    if (this.lingerTimer === null) {
      this.lingerTimer = setTimeout(this.flushNow, this.lingerMs);
    }
  }

  /** Hands every queue to the sender, in one go. */
  flush(): void {
    this.flushScheduled = false;
    if (this.lingerTimer !== null) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    if (this.active.length === 0) return;
    // While the sender waits (a remote call in flight, a retry, a codec),
    // records keep gathering here and leave together once it is free: one
    // call with everything, rather than one waiting call per flush.
    const busy = this.busy();
    if (busy !== null) {
      if (!this.deferred) {
        this.deferred = true;
        void busy.then(() => {
          this.deferred = false;
          this.flush();
        });
      }
      return;
    }
    const queues = this.active;
    this.active = [];
    const taken: Queue[] = new Array(queues.length);
    for (let i = 0; i < queues.length; i++) {
      const q = queues[i] as Queue;
      // Take the queue's contents; new sends start it afresh.
      taken[i] = { ...q };
      q.records = q.spare ?? emptyRecords();
      q.spare = null;
      q.parts = [];
      q.bytes = 0;
      q.active = false;
    }
    const p = this.drain(taken);
    // The sender encoded the records before it returned (batches hold their
    // bytes, not the records): their arrays go back to their queue, emptied,
    // to be filled again by the flush after next with no growing.
    // Arrays that grew past RECYCLE_MAX_RECORDS (one huge flush) are let go
    // rather than kept at that size for the producer's life.
    for (let i = 0; i < taken.length; i++) {
      const t = taken[i] as Queue;
      if (t.records.n > RECYCLE_MAX_RECORDS) continue;
      truncateRecords(t.records, 0);
      (queues[i] as Queue).spare = t.records;
    }
    if (p !== null) {
      // Failures settle their sends; anything else reaching here is a bug,
      // logged rather than left to reject unobserved.
      const tracked = p.catch(this.onDrainError).finally(() => this.inFlight.delete(tracked));
      this.inFlight.add(tracked);
    }
  }

  /** Flushes and waits until nothing is queued or in flight. */
  async close(): Promise<void> {
    for (;;) {
      this.flush();
      const waits: Promise<unknown>[] = [...this.inFlight];
      const busy = this.busy();
      if (busy !== null) waits.push(busy);
      if (waits.length === 0 && this.active.length === 0) return;
      await Promise.allSettled(waits);
    }
  }
}

/** Takes a send's staged records off their queues' ends, to join later. */
export function detach(staged: Part[]): void {
  for (let i = staged.length - 1; i >= 0; i--) {
    const part = staged[i] as Part;
    part.detached = spliceRecords(part.queue.records, part.start);
  }
}
