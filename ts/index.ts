/**
 * ferrolog: Kafka inside your Node process.
 *
 * `Log` is the low-level API over the storage engine; the codec encodes and
 * decodes Kafka RecordBatch v2.
 */
export * from './codec';
export * from './errors';
export type {
  AppendResult,
  CreateTopicOptions,
  LogOptions,
  ReadResult,
  RecoveryReport,
  SegmentDescription,
  TopicConfigEntries,
  TopicDescription,
  Watermarks,
} from './log';
export { Log } from './log';
