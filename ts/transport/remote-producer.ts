/**
 * The producer's `remote` transport: the native Kafka client
 * (crates/node/src/client.rs over crates/client). One `produce` is one
 * native call carrying every partition's batch; the client groups them per
 * leader, sends the bytes as they are, retries stale-leader errors and
 * answers per partition. The producer itself (staging, accumulator, sender)
 * is the same one the local transport runs under.
 */
import type { RetryOptions } from '../client/retry';
import type {
  ProduceFrame,
  ProduceResult,
  ProducerIdentity,
  ProducerTransport,
  TopicMetadata,
} from '../producer/transport';
import { KafkaJSTopicNotFound } from '../producer/types';
import { call, kafkaError } from './kafka-errors';
import type { NativeRemoteClient, RemoteProduceResult } from './native-remote';
import type { RemoteTransport } from './remote';

/**
 * The broker decides what it takes (its `max.message.bytes` may be anything):
 * the producer splits at its own `batch.size` and leaves the limit to it.
 */
const BATCH_BYTES_MAX = 2 ** 31 - 1;
const EPOCH_MAX = 32_767;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const LEADER_NOT_AVAILABLE = 5;
const TOPIC_ALREADY_EXISTS = 36;

export class RemoteProducerTransport implements ProducerTransport {
  readonly broker = 'remote';
  readonly retriesInside = true;
  readonly copiesFrames = false;
  private readonly remote: RemoteTransport;
  private readonly defaultNumPartitions: number;
  private client: NativeRemoteClient | null = null;
  /** Partition counts known; a topic being looked up has its promise in `asking`. */
  private readonly known = new Map<string, TopicMetadata>();
  private readonly asking = new Map<string, Promise<TopicMetadata>>();

  constructor(remote: RemoteTransport, defaultNumPartitions: number) {
    this.remote = remote;
    this.defaultNumPartitions = defaultNumPartitions;
  }

  async connect(_retry: RetryOptions | undefined): Promise<void> {
    // The native client retries connecting per the Kafka config's `retry`.
    if (this.client === null) this.client = await this.remote.acquire();
  }

  async close(): Promise<void> {
    if (this.client === null) return;
    this.client = null;
    await this.remote.release();
  }

  private handle(): NativeRemoteClient {
    if (this.client === null) throw kafkaError(-1, 'The producer is disconnected');
    return this.client;
  }

  topic(topic: string, create: boolean, refresh: boolean): TopicMetadata | Promise<TopicMetadata> {
    if (!refresh) {
      const m = this.known.get(topic);
      if (m !== undefined) return m;
    }
    let p = this.asking.get(topic);
    if (p === undefined) {
      p = this.lookup(this.handle(), topic, create).then(
        (m) => {
          this.known.set(topic, m);
          this.asking.delete(topic);
          return m;
        },
        (e: unknown) => {
          this.asking.delete(topic);
          throw e;
        },
      );
      this.asking.set(topic, p);
    }
    return p;
  }

  /** The topic's partition count from the cluster's metadata, creating the topic when allowed. */
  private async lookup(client: NativeRemoteClient, topic: string, create: boolean): Promise<TopicMetadata> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const m = await call(() => client.metadata([topic]));
      const t = m.topics.find((x) => x.name === topic);
      if (t !== undefined && t.errorCode === 0 && t.partitions.length > 0)
        return { partitions: t.partitions.length, batchBytesMax: BATCH_BYTES_MAX };
      if (
        t !== undefined &&
        t.errorCode !== 0 &&
        t.errorCode !== UNKNOWN_TOPIC_OR_PARTITION &&
        t.errorCode !== LEADER_NOT_AVAILABLE
      )
        throw kafkaError(t.errorCode, null);
      if ((t === undefined || t.errorCode === UNKNOWN_TOPIC_OR_PARTITION) && attempt === 0) {
        if (!create) throw new KafkaJSTopicNotFound(topic);
        const r = await call(() =>
          client.createTopics(
            [{ name: topic, numPartitions: this.defaultNumPartitions, replicationFactor: -1 }],
            30_000,
            false,
          ),
        );
        const code = r[0]?.errorCode ?? 0;
        if (code !== 0 && code !== TOPIC_ALREADY_EXISTS) throw kafkaError(code, r[0]?.errorMessage);
      }
      // A new topic's leaders take a moment to be elected.
      await new Promise((res) => setTimeout(res, 50 * (attempt + 1)));
    }
    throw kafkaError(LEADER_NOT_AVAILABLE, `topic ${topic} has no leaders`);
  }

  async initProducerId(): Promise<ProducerIdentity> {
    const client = this.handle();
    const id = await call(() => client.initProducerId(null));
    return { producerId: id.producerId, producerEpoch: id.producerEpoch };
  }

  /**
   * KIP-360 for an idempotent producer: the next epoch of the same id, which
   * the broker accepts with sequences from 0 (the Java producer bumps it the
   * same way); a new id once the epoch is exhausted.
   */
  renewProducerId(current: ProducerIdentity): ProducerIdentity | Promise<ProducerIdentity> {
    if (current.producerEpoch < EPOCH_MAX)
      return { producerId: current.producerId, producerEpoch: current.producerEpoch + 1 };
    return this.initProducerId();
  }

  produce(acks: -1 | 0 | 1, timeoutMs: number, frames: ProduceFrame[]): Promise<ProduceResult[]> {
    const client = this.handle();
    const batches = frames.map((f) => ({ topic: f.topic, partition: f.partition, records: f.batch }));
    return call(() => client.produce(acks, timeoutMs, batches)).then((rs) =>
      frames.map((f, i) => result(f, rs[i])),
    );
  }
}

function result(f: ProduceFrame, r: RemoteProduceResult | undefined): ProduceResult {
  if (r === undefined || r.errorCode !== 0) {
    const code = r?.errorCode ?? -1;
    return {
      baseOffset: -1,
      logAppendTime: -1,
      logStartOffset: -1,
      durable: null,
      error: kafkaError(code, r?.errorMessage, { topic: f.topic, partition: f.partition }),
    };
  }
  return {
    baseOffset: r.baseOffset,
    logAppendTime: r.logAppendTime,
    logStartOffset: r.logStartOffset,
    durable: null,
    error: null,
  };
}
