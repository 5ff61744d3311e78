/**
 * Reading partitions without a group, as kcat does: from the local log
 * (`Log.read`, waking on `waitForData`) or from brokers (Fetch with a max
 * wait, through the remote transport). Each call reads every partition
 * asked for at once: one native call per partition per round, whole
 * batches, decoded by the same decoder as the consumer's.
 */
import { decodeMessages } from '../codec';
import { KafkaErrorCode } from '../kafka-codes';
import type { Log } from '../log';
import { call, kafkaError } from '../transport/kafka-errors';
import type { NativeRemoteClient } from '../transport/native-remote';
import { RemoteTransport } from '../transport/remote';
import { UsageError } from './args';
import type { Target } from './target';

export interface Decoded {
  offset: string;
  offsetNumber: number;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, unknown>;
}

export interface PartitionReader {
  /** The topic's partition count; an unknown topic is a UsageError. */
  partitions(topic: string): Promise<number>;
  /** [low, high] per partition. */
  watermarks(topic: string, partitions: number[]): Promise<Map<number, { low: number; high: number }>>;
  /**
   * The messages at or after each position, waiting up to `waitMs` when
   * there are none yet. Returns them per partition with where to go on from.
   */
  read(
    topic: string,
    positions: Map<number, number>,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<{ partition: number; messages: Decoded[]; next: number }[]>;
  close(): Promise<void>;
}

const READ_BYTES = 1 << 20;

class LocalReader implements PartitionReader {
  constructor(private readonly log: Log) {}

  async partitions(topic: string): Promise<number> {
    const n = this.log.partitionCount(topic);
    if (n < 0) throw new UsageError(`unknown topic "${topic}"`);
    return n;
  }

  async watermarks(topic: string, partitions: number[]) {
    const out = new Map<number, { low: number; high: number }>();
    for (const p of partitions) {
      const w = this.log.watermarks(topic, p);
      out.set(p, { low: w.logStartOffset, high: w.highWatermark });
    }
    return out;
  }

  async read(topic: string, positions: Map<number, number>, waitMs: number, signal: AbortSignal) {
    const once = () => {
      const out: { partition: number; messages: Decoded[]; next: number }[] = [];
      for (const [p, offset] of positions) {
        const w = this.log.watermarks(topic, p);
        // Retention may have removed what was next: go on from the log's start.
        const from = Math.max(offset, w.logStartOffset);
        if (from >= w.highWatermark) continue;
        const r = this.log.read(topic, p, from, READ_BYTES);
        if (r.batches.length === 0) continue;
        const messages = decodeMessages(r.batches, from) as unknown as Decoded[];
        out.push({ partition: p, messages, next: Math.max(r.nextOffset, from) });
      }
      return out;
    };
    const got = once();
    if (got.length > 0 || waitMs <= 0) return got;
    const ac = new AbortController();
    const abort = () => ac.abort();
    signal.addEventListener('abort', abort, { once: true });
    try {
      await Promise.race(
        [...positions].map(([p, o]) => this.log.waitForData(topic, p, o, waitMs, ac.signal)),
      );
    } finally {
      ac.abort();
      signal.removeEventListener('abort', abort);
    }
    return signal.aborted ? [] : once();
  }

  async close(): Promise<void> {}
}

class RemoteReader implements PartitionReader {
  private client: NativeRemoteClient | null = null;
  constructor(private readonly transport: RemoteTransport) {}

  private async connected(): Promise<NativeRemoteClient> {
    this.client ??= await this.transport.acquire();
    return this.client;
  }

  async partitions(topic: string): Promise<number> {
    const c = await this.connected();
    const meta = await call(() => c.metadata([topic]));
    const t = meta.topics.find((x) => x.name === topic);
    if (
      t === undefined ||
      t.errorCode === KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION ||
      t.partitions.length === 0
    )
      throw new UsageError(`unknown topic "${topic}"`);
    if (t.errorCode !== 0) throw kafkaError(t.errorCode, null);
    return t.partitions.length;
  }

  async watermarks(topic: string, partitions: number[]) {
    const c = await this.connected();
    // ListOffsets' special timestamps: -2 the earliest offset, -1 the latest.
    const [low, high] = await Promise.all(
      [-2, -1].map((value) =>
        call(() => c.listOffsets(partitions.map((partition) => ({ topic, partition, value })))),
      ),
    );
    const out = new Map<number, { low: number; high: number }>();
    for (const p of partitions) {
      const l = low?.find((r) => r.partition === p);
      const h = high?.find((r) => r.partition === p);
      for (const r of [l, h])
        if (r && r.errorCode !== 0) throw kafkaError(r.errorCode, null, { topic, partition: p });
      out.set(p, { low: l?.offset ?? 0, high: h?.offset ?? 0 });
    }
    return out;
  }

  async read(topic: string, positions: Map<number, number>, waitMs: number, signal: AbortSignal) {
    if (signal.aborted) return [];
    const c = await this.connected();
    const results = await call(() =>
      c.fetch(
        [...positions].map(([partition, offset]) => ({ topic, partition, offset, maxBytes: READ_BYTES })),
        { maxWaitMs: Math.max(0, waitMs), minBytes: 1, maxBytes: READ_BYTES * 4 },
      ),
    );
    const out: { partition: number; messages: Decoded[]; next: number }[] = [];
    for (const r of results) {
      const from = positions.get(r.partition);
      if (from === undefined) continue;
      if (r.errorCode === KafkaErrorCode.OFFSET_OUT_OF_RANGE) {
        // Retention removed the offset: go on from the log's start, as auto.offset.reset=earliest.
        const w = await this.watermarks(topic, [r.partition]);
        out.push({ partition: r.partition, messages: [], next: w.get(r.partition)?.low ?? from });
        continue;
      }
      if (r.errorCode !== 0) throw kafkaError(r.errorCode, null, { topic, partition: r.partition });
      if (r.records.byteLength === 0) continue;
      const messages = decodeMessages(r.records, from) as unknown as Decoded[];
      const last = messages[messages.length - 1];
      out.push({ partition: r.partition, messages, next: last === undefined ? from : last.offsetNumber + 1 });
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.client !== null) await this.transport.release();
    this.client = null;
  }
}

export function readerFor(t: Target): PartitionReader {
  if (t.kind === 'local') return new LocalReader(t.log);
  return new RemoteReader(new RemoteTransport(t.config, 'ferrolog-cli'));
}
