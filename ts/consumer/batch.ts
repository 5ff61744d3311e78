/**
 * What eachBatch gets (kafkajs' Batch) and what the batch events report,
 * for one fetched run of records of a partition. The records are decoded
 * into columns once; `messages` (kafkajs' objects) are made on first use,
 * so a handler that reads `records` only never allocates per record.
 */
import type { RecordColumns } from '../codec';
import type { Batch, KafkaMessage } from './types';

/** kafkajs' Batch over `records` (not empty); `messages` builds the message objects once, when asked. */
export function makeBatch<K, V>(
  topic: string,
  partition: number,
  highWatermark: number,
  records: RecordColumns,
  messages: () => KafkaMessage<K, V>[],
): Batch<K, V> {
  const first = records.offsets[0] as number;
  const last = records.offsets[records.length - 1] as number;
  return {
    topic,
    partition,
    highWatermark: String(highWatermark),
    get messages() {
      return messages();
    },
    records,
    isEmpty: () => records.length === 0,
    firstOffset: () => String(first),
    lastOffset: () => String(last),
    offsetLag: () => String(highWatermark - 1 - last),
    offsetLagLow: () => String(highWatermark - 1 - first),
  };
}

/** The payload of START_BATCH_PROCESS and END_BATCH_PROCESS (before `duration`). */
export function batchEventInfo(
  topic: string,
  partition: number,
  highWatermark: number,
  records: RecordColumns,
) {
  const first = records.offsets[0] as number;
  const last = records.offsets[records.length - 1] as number;
  return {
    topic,
    partition,
    highWatermark: String(highWatermark),
    offsetLag: String(highWatermark - 1 - last),
    offsetLagLow: String(highWatermark - 1 - first),
    batchSize: records.length,
    firstOffset: String(first),
    lastOffset: String(last),
  };
}
