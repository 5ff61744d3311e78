/**
 * Committed offsets, stored in the log itself as Kafka does: an internal
 * topic `__consumer_offsets` whose records are `{group, topic, partition}`
 * keys with `{offset, metadata}` values (a null value deletes a group).
 *
 * Commits are appended (surviving a process kill at once, and fsynced by
 * the topic's interval flush within a second). Opening replays the topic.
 * Compaction is by snapshot: every `SNAPSHOT_EVERY_RECORDS` commits the live
 * offsets are re-appended and everything before them is deleted with
 * deleteRecords, so the topic stays small without Kafka's log cleaner.
 */
import { decodeMessages, encodeBatch, type RecordInput } from '../codec';
import { FerrologError } from '../errors';
import { type InternalTopics, internalTopics, type Log } from '../log';

export const OFFSETS_TOPIC = '__consumer_offsets';

function parseJson(bytes: Buffer | null): unknown {
  if (bytes === null) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
/** Commits between two snapshots. */
export const SNAPSHOT_EVERY_RECORDS = 10_000;
/** Offsets re-stated per snapshot batch. */
const SNAPSHOT_BATCH_RECORDS = 1_000;

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
  commitTimestamp: number;
}

interface Key {
  g: string;
  t?: string;
  p?: number;
}

interface Value {
  o: number;
  m: string | null;
  ts: number;
}

export interface OffsetCommit {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string | null;
}

export class OffsetStore {
  private readonly log: Log;
  /** group -> "topic\0partition" -> offset */
  private readonly groups = new Map<string, Map<string, CommittedOffset>>();
  private readonly internal: InternalTopics;
  private sinceSnapshot = 0;

  constructor(log: Log) {
    this.log = log;
    this.internal = log[internalTopics]();
    // Read-only (a directory another process owns), a missing offsets
    // topic simply means no group has committed yet.
    if (!log.hasTopic(OFFSETS_TOPIC) && log.readOnly) return;
    if (!log.hasTopic(OFFSETS_TOPIC)) {
      try {
        this.internal.createTopic(OFFSETS_TOPIC, 1, {
          'segment.bytes': String(1 << 20),
          'retention.ms': '-1',
          flush: 'interval',
          'flush.ms': '1000',
        });
      } catch (e) {
        if (!(e instanceof FerrologError && e.code === 'ERR_TOPIC_EXISTS')) throw e;
      }
    }
    this.load();
  }

  private load(): void {
    const w = this.log.watermarks(OFFSETS_TOPIC, 0);
    let offset = w.logStartOffset;
    while (offset < w.highWatermark) {
      const r = this.log.read(OFFSETS_TOPIC, 0, offset, 1 << 20);
      for (const m of decodeMessages(r.batches, offset)) {
        // Only this store writes the topic (the engine refuses other
        // writers), but a directory from elsewhere may hold records that
        // are not ours: they are skipped, never fatal.
        const key = parseJson(m.key) as Key | undefined;
        if (key === undefined || typeof key.g !== 'string') continue;
        if (m.value === null) {
          if (key.t === undefined) this.groups.delete(key.g);
          else this.groups.get(key.g)?.delete(`${key.t}\u0000${key.p}`);
          continue;
        }
        const v = parseJson(m.value) as Value | undefined;
        if (v === undefined || typeof v.o !== 'number') continue;
        this.entries(key.g).set(`${key.t}\u0000${key.p}`, {
          offset: v.o,
          metadata: v.m,
          commitTimestamp: v.ts,
        });
      }
      offset = r.nextOffset;
    }
    this.sinceSnapshot = w.highWatermark - w.logStartOffset;
  }

  private entries(group: string): Map<string, CommittedOffset> {
    let g = this.groups.get(group);
    if (g === undefined) {
      g = new Map();
      this.groups.set(group, g);
    }
    return g;
  }

  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(group)?.get(`${topic}\u0000${partition}`);
  }

  /** Every committed offset of a group. */
  all(group: string): { topic: string; partition: number; committed: CommittedOffset }[] {
    const out = [];
    for (const [k, committed] of this.groups.get(group) ?? []) {
      const sep = k.lastIndexOf('\u0000');
      out.push({ topic: k.slice(0, sep), partition: Number(k.slice(sep + 1)), committed });
    }
    return out;
  }

  groupIds(): string[] {
    return [...this.groups.keys()].filter((g) => (this.groups.get(g)?.size ?? 0) > 0);
  }

  /** Appends the commits as one batch (one native append), then updates the view. */
  commit(group: string, commits: OffsetCommit[]): void {
    if (commits.length === 0) return;
    const now = Date.now();
    const records: RecordInput[] = commits.map((c) => ({
      key: JSON.stringify({ g: group, t: c.topic, p: c.partition } satisfies Key),
      value: JSON.stringify({ o: c.offset, m: c.metadata ?? null, ts: now } satisfies Value),
      timestamp: now,
    }));
    this.internal.append(OFFSETS_TOPIC, 0, encodeBatch(records));
    const g = this.entries(group);
    for (const c of commits) {
      g.set(`${c.topic}\u0000${c.partition}`, {
        offset: c.offset,
        metadata: c.metadata ?? null,
        commitTimestamp: now,
      });
    }
    this.sinceSnapshot += commits.length;
    if (this.sinceSnapshot >= SNAPSHOT_EVERY_RECORDS) this.snapshot();
  }

  /** Forgets a group's offsets (a tombstone), or some of its partitions'. */
  delete(group: string, partitions?: { topic: string; partition: number }[]): void {
    const now = Date.now();
    const records: RecordInput[] =
      partitions === undefined
        ? [{ key: JSON.stringify({ g: group } satisfies Key), value: null, timestamp: now }]
        : partitions.map((p) => ({
            key: JSON.stringify({ g: group, t: p.topic, p: p.partition }),
            value: null,
            timestamp: now,
          }));
    if (records.length === 0) return;
    this.internal.append(OFFSETS_TOPIC, 0, encodeBatch(records));
    if (partitions === undefined) this.groups.delete(group);
    else for (const p of partitions) this.groups.get(group)?.delete(`${p.topic}\u0000${p.partition}`);
  }

  /** Re-states every live offset, then drops what came before. */
  private snapshot(): void {
    const start = this.log.watermarks(OFFSETS_TOPIC, 0).highWatermark;
    const now = Date.now();
    let records: RecordInput[] = [];
    for (const [group, entries] of this.groups) {
      for (const [k, c] of entries) {
        const sep = k.lastIndexOf('\u0000');
        records.push({
          key: JSON.stringify({ g: group, t: k.slice(0, sep), p: Number(k.slice(sep + 1)) } satisfies Key),
          value: JSON.stringify({ o: c.offset, m: c.metadata, ts: c.commitTimestamp } satisfies Value),
          timestamp: now,
        });
        if (records.length === SNAPSHOT_BATCH_RECORDS) {
          this.internal.append(OFFSETS_TOPIC, 0, encodeBatch(records));
          records = [];
        }
      }
    }
    if (records.length > 0) this.internal.append(OFFSETS_TOPIC, 0, encodeBatch(records));
    this.internal.deleteRecords(OFFSETS_TOPIC, 0, start);
    this.sinceSnapshot = 0;
  }
}
