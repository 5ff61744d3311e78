/**
 * What the producer needs from below it, and nothing more: the seam between
 * the one producer (staging → accumulator → sender) and the two transports,
 * `local` (the engine through the binding, ts/transport/local-producer.ts)
 * and `remote` (the Kafka protocol client, ts/transport/remote-producer.ts).
 *
 * The interface is batch-shaped: records never cross it one by one. A call
 * may answer synchronously (the local engine appends in the caller's turn)
 * or with a promise (a network round trip); the producer takes the
 * synchronous path without allocating a promise, which is where the local
 * transport's speed comes from.
 */
import type { Logger } from '../client/logger';
import type { RetryOptions } from '../client/retry';
import { KafkaJSError } from '../errors';

/** A topic as the producer needs it. */
export interface TopicMetadata {
  partitions: number;
  /** The largest batch the topic takes, in bytes (its `max.message.bytes`). */
  batchBytesMax: number;
}

/** An idempotent producer's identity (Kafka's producer id and epoch). */
export interface ProducerIdentity {
  producerId: number;
  producerEpoch: number;
}

/** One encoded RecordBatch v2 for one partition, sent as it is. */
export interface ProduceFrame {
  topic: string;
  partition: number;
  batch: Buffer;
  /** Records in the batch (its last offset delta + 1). */
  count: number;
}

/**
 * A transport's answer for a frame it did not try, because an earlier frame
 * of the same partition failed in the same call: the sender sends it again
 * once that one is settled, so a retry never lets a later batch overtake it.
 */
export const NOT_SENT: Error = new KafkaJSError('not sent: an earlier batch of the partition failed', {
  retriable: true,
});

/** The answer for one frame: where it landed, or why not. */
export interface ProduceResult {
  /** The batch's first offset; -1 when acks 0 or on error. */
  baseOffset: number;
  /** Broker-assigned time for LogAppendTime topics, else -1. */
  logAppendTime: number;
  logStartOffset: number;
  /** Settles once the batch is durable, when acks -1 must wait for it; else null. */
  durable: Promise<void> | null;
  /** Null when the batch was taken. */
  error: Error | null;
}

export interface ProducerTransport {
  /** `broker` of the producer's REQUEST events. */
  readonly broker: string;
  /**
   * Whether the transport retries retriable failures itself (the remote
   * client does, with the Kafka config's `retry`); when false the sender
   * retries a failed frame, the same bytes, per the producer's `retry`.
   */
  readonly retriesInside: boolean;
  /**
   * Whether a synchronous `produce` answer means every frame's bytes were
   * copied (the local engine copies them into the segment): the sender may
   * then reuse that memory for its next batches. A transport that keeps a
   * frame after it returns (a request waiting for the socket) says false.
   */
  readonly copiesFrames: boolean;
  /** Opens what the transport needs; `retry` governs waiting for it. */
  connect(retry: RetryOptions | undefined): Promise<void>;
  /** Releases it; called once everything in flight settled. */
  close(): Promise<void>;
  /**
   * The topic's partition count and batch limit, creating it when `create`
   * and it does not exist (else KafkaJSTopicNotFound). Synchronous when the
   * answer is at hand. `refresh` asks for current metadata (a partition
   * number past the known count).
   */
  topic(topic: string, create: boolean, refresh: boolean): TopicMetadata | Promise<TopicMetadata>;
  /** A producer id for an idempotent producer. */
  initProducerId(): ProducerIdentity | Promise<ProducerIdentity>;
  /**
   * A fresh identity after a batch whose outcome is unknown (KIP-360): the
   * sequences of the new one start at 0 on every partition.
   */
  renewProducerId(current: ProducerIdentity): ProducerIdentity | Promise<ProducerIdentity>;
  /**
   * Writes the frames, several partitions in one call, in order: frames of
   * one partition land in the order given. One result per frame, in the
   * same order. Rejects (or throws) only when the whole call failed and the
   * frames' fate is unknown.
   */
  produce(
    acks: -1 | 0 | 1,
    timeoutMs: number,
    frames: ProduceFrame[],
  ): ProduceResult[] | Promise<ProduceResult[]>;
}

/**
 * What a producer takes from its client (the `Kafka` object), injected so
 * that the producer never imports the client: a logger, the retry policy,
 * the client id and a transport.
 */
export interface ProducerContext {
  clientId: string;
  logger: Logger;
  retry: RetryOptions | undefined;
  transport: ProducerTransport;
}
