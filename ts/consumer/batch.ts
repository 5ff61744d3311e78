/**
 * What eachBatch gets (kafkajs' Batch) and what the batch events report,
 * for one fetched run of messages of a partition.
 */
import type { Message as RawMessage } from '../codec';
import type { Batch, KafkaMessage } from './consumer';

/** kafkajs' Batch over `messages` (decoded, or wrapped with deserializers); `raw` is not empty. */
export function makeBatch<K, V>(
  topic: string,
  partition: number,
  highWatermark: number,
  raw: RawMessage[],
  messages: KafkaMessage<K, V>[],
): Batch<K, V> {
  const first = raw[0] as RawMessage;
  const last = raw[raw.length - 1] as RawMessage;
  return {
    topic,
    partition,
    highWatermark: String(highWatermark),
    messages,
    isEmpty: () => messages.length === 0,
    firstOffset: () => first.offset,
    lastOffset: () => last.offset,
    offsetLag: () => String(highWatermark - 1 - last.offsetNumber),
    offsetLagLow: () => String(highWatermark - 1 - first.offsetNumber),
  };
}

/** The payload of START_BATCH_PROCESS and END_BATCH_PROCESS (before `duration`). */
export function batchEventInfo(topic: string, partition: number, highWatermark: number, raw: RawMessage[]) {
  const first = raw[0] as RawMessage;
  const last = raw[raw.length - 1] as RawMessage;
  return {
    topic,
    partition,
    highWatermark: String(highWatermark),
    offsetLag: String(highWatermark - 1 - last.offsetNumber),
    offsetLagLow: String(highWatermark - 1 - first.offsetNumber),
    batchSize: raw.length,
    firstOffset: first.offset,
    lastOffset: last.offset,
  };
}
