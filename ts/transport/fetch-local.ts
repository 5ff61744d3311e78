/**
 * The consumer's local transport: the engine of a data directory (reads
 * are zero-copy views over its mapped segments) and the group coordinator
 * next to it, reached through the binding. A fetch reads every partition
 * asked for; when none has data it waits on the engine's long-poll for any
 * of them, which holds no thread and no spinning timer.
 */
import { setMaxListeners } from 'node:events';
import { createLocalCluster } from '../client/cluster';
import type { RetryOptions } from '../client/retry';
import { KafkaJSError, OffsetOutOfRangeError } from '../errors';
import { GroupCoordinator } from '../group/coordinator';
import type { GroupMember, MemberHooks } from '../group/member';
import type { GroupCalls } from '../group/types';
import { type Log, topicEvents } from '../log';
import type { Cluster } from '../types/kafkajs';
import type {
  CommitOffset,
  ConsumerTransport,
  FetchedPartition,
  FetchOptions,
  FetchPartition,
} from './types';

/** What the local transport needs from `Kafka`: its way to the directory. */
export interface LocalLogSource {
  openLog(): Log;
  openLogWithRetry(retry: RetryOptions | undefined): Promise<Log>;
}

const EMPTY = Buffer.alloc(0);

export class LocalConsumerTransport implements ConsumerTransport {
  readonly kind = 'local' as const;
  private readonly source: LocalLogSource;
  private opened: Log | null = null;
  private coordinator_: GroupCoordinator | null = null;

  constructor(source: LocalLogSource) {
    this.source = source;
  }

  private get log(): Log {
    if (this.opened === null) throw new KafkaJSError('The consumer is not connected', { retriable: false });
    return this.opened;
  }

  private get coordinator(): GroupCoordinator {
    if (this.coordinator_ === null)
      throw new KafkaJSError('The consumer is not connected', { retriable: false });
    return this.coordinator_;
  }

  async connect(retry: RetryOptions | undefined): Promise<void> {
    // The log first: it waits per `retry` while another process holds the directory.
    const log = await this.source.openLogWithRetry(retry);
    const coordinator = GroupCoordinator.acquire(() => this.source.openLog());
    try {
      await coordinator.ready();
    } catch (e) {
      await log.close().catch(() => undefined);
      await coordinator.release().catch(() => undefined);
      throw e;
    }
    this.opened = log;
    this.coordinator_ = coordinator;
  }

  async close(): Promise<void> {
    const log = this.opened;
    const coordinator = this.coordinator_;
    this.opened = null;
    this.coordinator_ = null;
    await log?.close();
    await coordinator?.release();
  }

  get groups(): GroupCalls {
    return this.coordinator.calls;
  }

  member(groupId: string, hooks: MemberHooks): GroupMember {
    return this.coordinator.member(groupId, hooks);
  }

  forget(member: GroupMember): void {
    this.coordinator_?.forget(member);
  }

  validateCommits(commits: CommitOffset[]): void {
    this.coordinator.validate(commits);
  }

  async refreshMetadata(): Promise<void> {
    // The engine is the metadata: nothing is cached.
  }

  topicNames(): string[] {
    return this.opened === null ? [] : this.opened.topics().map((t) => t.name);
  }

  partitionCount(topic: string): number {
    return this.opened?.partitionCount(topic) ?? -1;
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    try {
      this.log.createTopic(topic, { partitions });
    } catch (e) {
      if (!(e instanceof KafkaJSError && (e as { code?: string }).code === 'ERR_TOPIC_EXISTS')) throw e;
    }
  }

  private readOnce(partitions: FetchPartition[]): FetchedPartition[] {
    const log = this.log;
    return partitions.map(({ topic, partition, offset, maxBytes }) => {
      try {
        const r = log.read(topic, partition, offset, maxBytes);
        return {
          topic,
          partition,
          errorCode: 0,
          batches: r.batches,
          highWatermark: r.highWatermark,
          logStartOffset: r.logStartOffset,
        };
      } catch (e) {
        if (!(e instanceof OffsetOutOfRangeError)) throw e;
        const w = log.watermarks(topic, partition);
        return {
          topic,
          partition,
          errorCode: 1,
          batches: EMPTY,
          highWatermark: w.highWatermark,
          logStartOffset: w.logStartOffset,
        };
      }
    });
  }

  async fetch(partitions: FetchPartition[], options: FetchOptions): Promise<FetchedPartition[]> {
    const first = this.readOnce(partitions);
    if (
      options.maxWaitMs === 0 ||
      options.signal?.aborted === true ||
      first.some((r) => r.errorCode !== 0 || r.batches.byteLength > 0)
    )
      return first;
    const log = this.log;
    const done = new AbortController();
    // One abort listener per partition's wait: more than Node's default of
    // 10 is expected here, not a leak (each is removed when its wait ends).
    setMaxListeners(partitions.length + 1, done.signal);
    const stop = () => done.abort();
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      await Promise.race(
        partitions.map((p) =>
          log.waitForData(p.topic, p.partition, p.offset, options.maxWaitMs, done.signal),
        ),
      );
    } finally {
      done.abort();
      options.signal?.removeEventListener('abort', stop);
    }
    if (this.opened === null) return first;
    return this.readOnce(partitions);
  }

  async listOffsets(
    partitions: { topic: string; partition: number; timestamp: -1 | -2 }[],
  ): Promise<{ topic: string; partition: number; offset: number }[]> {
    const log = this.log;
    return partitions.map(({ topic, partition, timestamp }) => {
      const w = log.watermarks(topic, partition);
      return { topic, partition, offset: timestamp === -2 ? w.logStartOffset : w.highWatermark };
    });
  }

  assignerCluster(): Cluster {
    return createLocalCluster(() => this.log);
  }

  onTopicCreated(listener: (topic: string) => void): () => void {
    const dir = this.log.dataDir;
    const on = (d: string, topic: string) => {
      if (d === dir) listener(topic);
    };
    topicEvents.on('created', on);
    return () => topicEvents.off('created', on);
  }
}
