/**
 * The producer's `local` transport: the engine in this process, through the
 * binding. Everything answers synchronously (an append is a memcpy into the
 * page cache); only acks -1 waits, for the engine's group-committed
 * fdatasync on its flusher thread, never on the JavaScript thread.
 */
import type { RetryOptions } from '../client/retry';
import { FerrologError } from '../errors';
import type { AppendResult, Log } from '../log';
import {
  NOT_SENT,
  type ProduceFrame,
  type ProduceResult,
  type ProducerIdentity,
  type ProducerTransport,
  type TopicMetadata,
} from '../producer/transport';
import { KafkaJSTopicNotFound } from '../producer/types';

export class LocalProducerTransport implements ProducerTransport {
  readonly broker = 'ferrolog';
  readonly retriesInside = false;
  readonly copiesFrames = true;
  private readonly open: (retry: RetryOptions | undefined) => Promise<Log>;
  private readonly defaultNumPartitions: number;
  /** The engine handle while connected. */
  private log: Log | null = null;

  constructor(open: (retry: RetryOptions | undefined) => Promise<Log>, defaultNumPartitions: number) {
    this.open = open;
    this.defaultNumPartitions = defaultNumPartitions;
  }

  async connect(retry: RetryOptions | undefined): Promise<void> {
    if (this.log === null) this.log = await this.open(retry);
  }

  async close(): Promise<void> {
    const log = this.log;
    this.log = null;
    await log?.close();
  }

  private handle(): Log {
    if (this.log === null) throw new FerrologError('ERR_CLOSED', 'The producer is disconnected');
    return this.log;
  }

  topic(topic: string, create: boolean): TopicMetadata {
    const log = this.handle();
    let partitions = log.partitionCount(topic);
    if (partitions < 0) {
      if (!create) throw new KafkaJSTopicNotFound(topic);
      try {
        log.createTopic(topic, { partitions: this.defaultNumPartitions });
      } catch (e) {
        if (!(e instanceof FerrologError && e.code === 'ERR_TOPIC_EXISTS')) throw e;
      }
      partitions = log.partitionCount(topic);
    }
    return { partitions, batchBytesMax: log.batchBytesMax(topic) };
  }

  initProducerId(): ProducerIdentity {
    return { producerId: this.handle().allocateProducerId(), producerEpoch: 0 };
  }

  renewProducerId(): ProducerIdentity {
    // A new id rather than a new epoch: the engine's ids are cheap and
    // local, and a new id's sequences start afresh.
    return this.initProducerId();
  }

  /**
   * One native append per frame, in order. After a frame fails, the later
   * frames of its partition are not tried (NOT_SENT), so a retry of the
   * failed one cannot be overtaken. For acks -1, the partitions' fsyncs are
   * asked for together once every frame is appended, so they share a round
   * of the flusher's fdatasyncs.
   */
  produce(acks: -1 | 0 | 1, _timeoutMs: number, frames: ProduceFrame[]): ProduceResult[] {
    const log = this.handle();
    const results: ProduceResult[] = new Array(frames.length);
    let failed: Set<string> | null = null;
    // Partitions that must be fsynced for acks -1, with the offset to reach.
    let syncs: Map<string, { frame: ProduceFrame; end: number; durable: Promise<void> | null }> | null = null;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i] as ProduceFrame;
      if (failed?.has(`${f.topic}\u0000${f.partition}`)) {
        results[i] = {
          baseOffset: -1,
          logAppendTime: -1,
          logStartOffset: -1,
          durable: null,
          error: NOT_SENT,
        };
        continue;
      }
      let r: AppendResult;
      try {
        r = log.appendWithMetadata(f.topic, f.partition, f.batch);
      } catch (e) {
        failed ??= new Set();
        failed.add(`${f.topic}\u0000${f.partition}`);
        results[i] = {
          baseOffset: -1,
          logAppendTime: -1,
          logStartOffset: -1,
          durable: null,
          error: e as Error,
        };
        continue;
      }
      results[i] = {
        baseOffset: r.baseOffset,
        logAppendTime: r.logAppendTime,
        logStartOffset: r.logStartOffset,
        durable: r.durable,
        error: null,
      };
      if (acks === -1 && r.durable === null) {
        syncs ??= new Map();
        const key = `${f.topic}\u0000${f.partition}`;
        const s = syncs.get(key);
        if (s === undefined) syncs.set(key, { frame: f, end: r.lastOffset + 1, durable: null });
        else s.end = Math.max(s.end, r.lastOffset + 1);
      }
    }
    if (syncs !== null) {
      if (syncs.size === 1) {
        for (const s of syncs.values()) s.durable = log.syncTo(s.frame.topic, s.frame.partition, s.end);
      } else {
        // Asked for together: one round of the flusher, fdatasyncs side by side.
        const all = [...syncs.values()];
        const durable = log.syncToMany(
          all.map((s) => ({ topic: s.frame.topic, partition: s.frame.partition, offset: s.end })),
        );
        all.forEach((s, i) => {
          s.durable = durable[i] ?? null;
        });
      }
      for (let i = 0; i < frames.length; i++) {
        const r = results[i] as ProduceResult;
        if (r.error !== null || r.durable !== null) continue;
        const f = frames[i] as ProduceFrame;
        r.durable = syncs.get(`${f.topic}\u0000${f.partition}`)?.durable ?? null;
      }
    }
    return results;
  }
}
