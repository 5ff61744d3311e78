/**
 * Error classes. The kafkajs 2.2.4 names and `retriable` flags come first, so
 * `instanceof KafkaJSError` checks written for kafkajs keep working; the
 * engine's own errors extend them, each with a stable `code`.
 */

import { KAFKA_ERRORS, kafkaCode, NAMED_UNLIKE_KAFKAJS } from './kafka-codes';

/** kafkajs' `KafkaJSErrorMetadata`: what its error constructors take. */
export interface KafkaJSErrorMetadata {
  retriable?: boolean;
  topic?: string;
  partitionId?: number;
  metadata?: import('./producer/partitioners').PartitionMetadata;
}

/** kafkajs' root error. `retriable` says whether trying again may succeed. */
export class KafkaJSError extends Error {
  readonly retriable: boolean;
  readonly helpUrl?: string;
  override readonly cause?: Error;

  constructor(e: string | Error, options: KafkaJSErrorMetadata & { cause?: Error } = {}) {
    super(typeof e === 'string' ? e : e.message);
    this.name = 'KafkaJSError';
    this.retriable = options.retriable ?? true;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

export class KafkaJSNonRetriableError extends KafkaJSError {
  constructor(e: string | Error, options: { cause?: Error } = {}) {
    super(e, { ...options, retriable: false });
    this.name = 'KafkaJSNonRetriableError';
  }
}

/**
 * kafkajs' `retriable` flag of each Kafka error type (from the one table of
 * codes, kafka-codes.ts). A protocol error takes its flag from here, so
 * every call site agrees with kafkajs whatever it passes.
 */
export const PROTOCOL_RETRIABLE: Readonly<Record<string, boolean>> = Object.freeze(
  Object.fromEntries(
    Object.entries(KAFKA_ERRORS)
      .filter(([code]) => !NAMED_UNLIKE_KAFKAJS.has(Number(code)))
      .map(([, [type, retriable]]) => [type, retriable]),
  ),
);

/** A Kafka protocol error, named by its Kafka error `type` (e.g. `UNKNOWN_TOPIC_OR_PARTITION`). */
export class KafkaJSProtocolError extends KafkaJSError {
  readonly type: string;
  readonly code: number;

  /**
   * kafkajs' forms, `(message)` and `({ type, code, message, retriable })`,
   * and ferrolog's `(message, type, code, retriable)`.
   */
  constructor(
    e: string | Error | { message: string; type: string; code: number; retriable?: boolean },
    type?: string | { retriable?: boolean },
    code?: number,
    retriable?: boolean,
  ) {
    const spec = typeof e === 'object' && e !== null && 'type' in e ? e : null;
    const t = typeof type === 'string' ? type : (spec?.type ?? 'UNKNOWN');
    const flag =
      PROTOCOL_RETRIABLE[t] ??
      (typeof type === 'object' ? type.retriable : undefined) ??
      retriable ??
      spec?.retriable ??
      true;
    super(spec !== null ? spec.message : (e as string | Error), { retriable: flag });
    this.name = 'KafkaJSProtocolError';
    this.type = t;
    this.code = code ?? spec?.code ?? -1;
  }
}

export class KafkaJSOffsetOutOfRange extends KafkaJSProtocolError {
  readonly topic: string;
  readonly partition: number;
  constructor(e: string | Error, meta: { topic: string; partition: number } = { topic: '', partition: -1 }) {
    super(e, 'OFFSET_OUT_OF_RANGE', kafkaCode('OFFSET_OUT_OF_RANGE'), false);
    this.name = 'KafkaJSOffsetOutOfRange';
    this.topic = meta.topic;
    this.partition = meta.partition;
  }
}

export class KafkaJSNumberOfRetriesExceeded extends KafkaJSNonRetriableError {
  readonly retryCount: number;
  readonly retryTime: number;
  /**
   * The last error's stable `code` (`ERR_IO`, ...), when it had one: kafkajs
   * keeps only `cause`, but code that checks `e.code` for a full disk should
   * not have to unwrap first. The error itself stays reachable as `cause`.
   */
  readonly code?: string;
  constructor(
    e: Error | string,
    meta: { retryCount: number; retryTime: number } = { retryCount: 0, retryTime: 0 },
  ) {
    super(e, typeof e === 'string' ? {} : { cause: e });
    this.name = 'KafkaJSNumberOfRetriesExceeded';
    this.retryCount = meta.retryCount;
    this.retryTime = meta.retryTime;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') this.code = code;
  }
}

export class KafkaJSConnectionError extends KafkaJSError {
  readonly broker: string;
  readonly code?: string;
  constructor(e: string | Error, meta: { broker?: string; code?: string } = {}) {
    super(e, { retriable: true });
    this.name = 'KafkaJSConnectionError';
    this.broker = meta.broker ?? '';
    if (meta.code !== undefined) this.code = meta.code;
  }
}

/** Not retriable in kafkajs: a timeout means the wait was already as long as allowed. */
export class KafkaJSTimeout extends KafkaJSNonRetriableError {
  constructor(e: string | Error = 'Timeout') {
    super(e);
    this.name = 'KafkaJSTimeout';
  }
}

/** kafkajs' `KafkaJSAggregateError`: several errors at once (not a KafkaJSError, as in kafkajs). */
export class KafkaJSAggregateError extends Error {
  readonly errors: (Error | string)[];
  constructor(message: Error | string, errors: (Error | string)[]) {
    super(typeof message === 'string' ? message : message.message);
    this.name = 'KafkaJSAggregateError';
    this.errors = errors;
  }
}

export class KafkaJSAlterPartitionReassignmentsError extends KafkaJSProtocolError {
  readonly topic?: string;
  readonly partition?: number;
  constructor(e: Error | string, topic?: string, partition?: number) {
    super(e, 'INVALID_REPLICA_ASSIGNMENT', kafkaCode('INVALID_REPLICA_ASSIGNMENT'), false);
    this.name = 'KafkaJSAlterPartitionReassignmentsError';
    if (topic !== undefined) this.topic = topic;
    if (partition !== undefined) this.partition = partition;
  }
}

export class KafkaJSRequestTimeoutError extends KafkaJSError {
  readonly broker: string;
  readonly correlationId: number;
  readonly createdAt: number;
  readonly sentAt: number;
  readonly pendingDuration: number;
  constructor(
    e: Error | string,
    meta: Partial<{
      broker: string;
      clientId: string;
      correlationId: number;
      createdAt: number;
      sentAt: number;
      pendingDuration: number;
    }> = {},
  ) {
    super(e);
    this.name = 'KafkaJSRequestTimeoutError';
    this.broker = meta.broker ?? '';
    this.correlationId = meta.correlationId ?? -1;
    this.createdAt = meta.createdAt ?? 0;
    this.sentAt = meta.sentAt ?? 0;
    this.pendingDuration = meta.pendingDuration ?? 0;
  }
}

export class KafkaJSMetadataNotLoaded extends KafkaJSError {
  constructor(e: Error | string = 'Metadata not loaded') {
    super(e);
    this.name = 'KafkaJSMetadataNotLoaded';
  }
}

export class KafkaJSTopicMetadataNotLoaded extends KafkaJSMetadataNotLoaded {
  readonly topic: string;
  constructor(e: Error | string = 'Topic metadata not loaded', meta: { topic?: string } = {}) {
    super(e);
    this.name = 'KafkaJSTopicMetadataNotLoaded';
    this.topic = meta.topic ?? '';
  }
}

export class KafkaJSStaleTopicMetadataAssignment extends KafkaJSError {
  readonly topic: string;
  readonly unknownPartitions: number;
  constructor(
    e: Error | string = 'Topic has been updated',
    meta: { topic?: string; unknownPartitions?: unknown[] } = {},
  ) {
    super(e);
    this.name = 'KafkaJSStaleTopicMetadataAssignment';
    this.topic = meta.topic ?? '';
    // kafkajs' runtime holds the partitions here and its types say a number: the count fits both readers best.
    this.unknownPartitions = meta.unknownPartitions?.length ?? 0;
  }
}

export class KafkaJSServerDoesNotSupportApiKey extends KafkaJSNonRetriableError {
  readonly apiKey: number;
  readonly apiName: string;
  constructor(e: Error | string, meta: { apiKey?: number; apiName?: string } = {}) {
    super(e);
    this.name = 'KafkaJSServerDoesNotSupportApiKey';
    this.apiKey = meta.apiKey ?? -1;
    this.apiName = meta.apiName ?? '';
  }
}

export class KafkaJSBrokerNotFound extends KafkaJSError {
  constructor(e: Error | string = 'Broker not found', options: KafkaJSErrorMetadata = {}) {
    super(e, options);
    this.name = 'KafkaJSBrokerNotFound';
  }
}

export class KafkaJSPartialMessageError extends KafkaJSNonRetriableError {
  constructor(e: Error | string = 'Partial message') {
    super(e);
    this.name = 'KafkaJSPartialMessageError';
  }
}

export class KafkaJSSASLAuthenticationError extends KafkaJSNonRetriableError {
  constructor(e: Error | string = 'SASL authentication failed') {
    super(e);
    this.name = 'KafkaJSSASLAuthenticationError';
  }
}

export class KafkaJSGroupCoordinatorNotFound extends KafkaJSNonRetriableError {
  constructor(e: Error | string = 'Group coordinator not found') {
    super(e);
    this.name = 'KafkaJSGroupCoordinatorNotFound';
  }
}

/** What ferrolog does not do (yet), e.g. `producer.transaction()`. */
export class KafkaJSNotImplemented extends KafkaJSNonRetriableError {
  constructor(e: Error | string = 'Not implemented') {
    super(e);
    this.name = 'KafkaJSNotImplemented';
  }
}

export class KafkaJSLockTimeout extends KafkaJSTimeout {
  constructor(e: Error | string = 'Timeout while acquiring lock') {
    super(e);
    this.name = 'KafkaJSLockTimeout';
  }
}

export class KafkaJSUnsupportedMagicByteInMessageSet extends KafkaJSNonRetriableError {
  constructor(e: Error | string = 'Unsupported magic byte') {
    super(e);
    this.name = 'KafkaJSUnsupportedMagicByteInMessageSet';
  }
}

export interface KafkaJSDeleteTopicRecordsErrorPartition {
  partition: number;
  offset: string;
  error: KafkaJSError;
}

export interface KafkaJSDeleteTopicRecordsErrorTopic {
  topic: string;
  partitions: KafkaJSDeleteTopicRecordsErrorPartition[];
}

/** Retriable when every partition's error is, as in kafkajs. */
export class KafkaJSDeleteTopicRecordsError extends KafkaJSError {
  readonly partitions: KafkaJSDeleteTopicRecordsErrorPartition[];
  constructor(meta: KafkaJSDeleteTopicRecordsErrorTopic) {
    const retriable = meta.partitions.every((p) => p.error == null || p.error.retriable === true);
    super('Error while deleting records', { retriable });
    this.name = 'KafkaJSDeleteTopicRecordsError';
    this.partitions = meta.partitions;
  }
}

/**
 * An error from ferrolog's engine or binding. `code` is stable
 * (`ERR_UNKNOWN_TOPIC_OR_PARTITION`, ...); the subclass says the same in types.
 */
export class FerrologError extends KafkaJSError {
  readonly code: string;
  constructor(code: string, message: string, retriable = false) {
    super(message, { retriable });
    this.name = 'FerrologError';
    this.code = code;
  }
}

export class InvalidArgumentError extends FerrologError {
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message);
    this.name = 'InvalidArgumentError';
  }
}
export class InvalidConfigError extends FerrologError {
  constructor(message: string) {
    super('ERR_INVALID_CONFIG', message);
    this.name = 'InvalidConfigError';
  }
}
export class InvalidBatchError extends FerrologError {
  constructor(message: string) {
    super('ERR_INVALID_BATCH', message);
    this.name = 'InvalidBatchError';
  }
}
export class MessageTooLargeError extends FerrologError {
  constructor(message: string) {
    super('ERR_MESSAGE_TOO_LARGE', message);
    this.name = 'MessageTooLargeError';
  }
}
export class UnknownTopicOrPartitionError extends FerrologError {
  /** kafkajs reports this as a protocol error of this type, which it retries. */
  readonly type = 'UNKNOWN_TOPIC_OR_PARTITION';
  constructor(message: string) {
    super('ERR_UNKNOWN_TOPIC_OR_PARTITION', message, true);
    this.name = 'UnknownTopicOrPartitionError';
  }
}
export class TopicExistsError extends FerrologError {
  readonly type = 'TOPIC_ALREADY_EXISTS';
  constructor(message: string) {
    super('ERR_TOPIC_EXISTS', message);
    this.name = 'TopicExistsError';
  }
}
export class OffsetOutOfRangeError extends FerrologError {
  readonly type = 'OFFSET_OUT_OF_RANGE';
  constructor(message: string) {
    super('ERR_OFFSET_OUT_OF_RANGE', message);
    this.name = 'OffsetOutOfRangeError';
  }
}
export class CorruptDataError extends FerrologError {
  constructor(message: string) {
    super('ERR_CORRUPT', message);
    this.name = 'CorruptDataError';
  }
}
export class StorageIOError extends FerrologError {
  constructor(message: string) {
    super('ERR_IO', message, true);
    this.name = 'StorageIOError';
  }
}
export class FsyncFailedError extends FerrologError {
  constructor(message: string) {
    super('ERR_FSYNC_FAILED', message);
    this.name = 'FsyncFailedError';
  }
}
export class LockedError extends FerrologError {
  /** Retriable while the holder may let go; `retriable: false` when waiting cannot help. */
  constructor(message: string, retriable = true) {
    super('ERR_LOCKED', message, retriable);
    this.name = 'LockedError';
  }
}
export class ClosedError extends FerrologError {
  constructor(message = 'the log is closed') {
    super('ERR_CLOSED', message);
    this.name = 'ClosedError';
  }
}
/** A write to a log opened with `readOnly`. */
export class ReadOnlyError extends FerrologError {
  constructor(message = 'the log was opened read-only') {
    super('ERR_READ_ONLY', message);
    this.name = 'ReadOnlyError';
  }
}

export class SegmentFullError extends FerrologError {
  constructor(message: string) {
    super('ERR_SEGMENT_FULL', message);
    this.name = 'SegmentFullError';
  }
}

/** The engine refused a batch whose sequence does not follow the producer's last one (Kafka's OUT_OF_ORDER_SEQUENCE_NUMBER). */
export class OutOfOrderSequenceError extends FerrologError {
  readonly type = 'OUT_OF_ORDER_SEQUENCE_NUMBER';
  constructor(message: string) {
    super('ERR_OUT_OF_ORDER_SEQUENCE', message);
    this.name = 'OutOfOrderSequenceError';
  }
}
/** The producer's epoch is older than the partition's: another producer took over (Kafka's INVALID_PRODUCER_EPOCH). */
export class InvalidProducerEpochError extends FerrologError {
  readonly type = 'INVALID_PRODUCER_EPOCH';
  constructor(message: string) {
    super('ERR_INVALID_PRODUCER_EPOCH', message);
    this.name = 'InvalidProducerEpochError';
  }
}
/** A codec failed to compress or decompress (malformed data, or a size limit reached). */
export class CompressionError extends FerrologError {
  constructor(message: string) {
    super('ERR_COMPRESSION', message);
    this.name = 'CompressionError';
  }
}
/** The runtime refused something the binding needs (e.g. an external buffer); a bug or an exhausted runtime, not bad input. */
export class InternalError extends FerrologError {
  constructor(message: string) {
    super('ERR_INTERNAL', message);
    this.name = 'InternalError';
  }
}

/**
 * A send that reached several partitions (or several batches of one) and
 * failed part-way for a storage reason: Kafka's produce response carries a
 * result per partition, and so does this error.
 *
 * - `written`: the RecordMetadata (errorCode 0) of every partition whose
 *   messages of this send were all appended, as a successful send returns.
 * - `failed`: every other partition of the send, with its error, Kafka's
 *   error code for it, and `written`: how many of this partition's messages
 *   of the send reached the log anyway (non-zero only when its share spanned
 *   several batches and some were appended before or after the failure),
 *   with `baseOffset`, the offset of the first of them, when there are any.
 * - `cause`: the first failure, for code that only follows kafkajs' `cause`.
 *
 * It is not retriable: sending the whole call again would duplicate what
 * `written` lists. Send the failed partitions' messages again instead.
 */
export class KafkaJSPartialSendError extends KafkaJSNonRetriableError {
  readonly written: {
    topicName: string;
    partition: number;
    errorCode: number;
    baseOffset?: string;
    logAppendTime?: string;
    logStartOffset?: string;
  }[];
  readonly failed: {
    topicName: string;
    partition: number;
    /** Kafka's error code for the failure (56, KAFKA_STORAGE_ERROR, for storage errors; -1 when unknown). */
    errorCode: number;
    error: Error;
    written: number;
    baseOffset?: string;
  }[];
  /** The first failure's `code` (`ERR_IO`, ...), when it has one. */
  readonly code?: string;
  constructor(written: KafkaJSPartialSendError['written'], failed: KafkaJSPartialSendError['failed']) {
    const first = failed[0]?.error ?? new Error('send failed');
    const names = failed.map((f) => `${f.topicName}-${f.partition}`).join(', ');
    super(
      `the send failed on ${names} (${first.message}); ${written.length} other partition(s) were written: see \`written\` and \`failed\``,
      { cause: first },
    );
    this.name = 'KafkaJSPartialSendError';
    this.written = written;
    this.failed = failed;
    const code = (first as { code?: unknown }).code;
    if (typeof code === 'string') this.code = code;
  }
}

const byCode: Record<string, new (message: string) => FerrologError> = {
  ERR_OUT_OF_ORDER_SEQUENCE: OutOfOrderSequenceError,
  ERR_INVALID_PRODUCER_EPOCH: InvalidProducerEpochError,
  ERR_COMPRESSION: CompressionError,
  ERR_INTERNAL: InternalError,
  ERR_INVALID_ARGUMENT: InvalidArgumentError,
  ERR_INVALID_CONFIG: InvalidConfigError,
  ERR_INVALID_BATCH: InvalidBatchError,
  ERR_MESSAGE_TOO_LARGE: MessageTooLargeError,
  ERR_UNKNOWN_TOPIC_OR_PARTITION: UnknownTopicOrPartitionError,
  ERR_TOPIC_EXISTS: TopicExistsError,
  ERR_OFFSET_OUT_OF_RANGE: OffsetOutOfRangeError,
  ERR_CORRUPT: CorruptDataError,
  ERR_IO: StorageIOError,
  ERR_FSYNC_FAILED: FsyncFailedError,
  ERR_LOCKED: LockedError,
  ERR_CLOSED: ClosedError,
  ERR_SEGMENT_FULL: SegmentFullError,
  ERR_READ_ONLY: ReadOnlyError,
};

/**
 * Turns an error thrown by the native binding into its typed class. The
 * binding carries ferrolog's stable code as the JS error's `code` (napi's
 * status) and the text alone as its message. Anything else (napi's own
 * argument errors, whose codes are napi statuses such as `InvalidArg`)
 * becomes an InvalidArgumentError, since only a wrong argument produces those.
 */
export function fromNative(e: unknown): FerrologError {
  if (e instanceof FerrologError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const code = nativeCode(e);
  if (code !== undefined) {
    const Ctor = byCode[code];
    return Ctor ? new Ctor(message) : new FerrologError(code, message);
  }
  return new InvalidArgumentError(message);
}

/** The ferrolog code (`ERR_...`) a native error carries, if it carries one. */
export function nativeCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && /^ERR_[A-Z0-9_]+$/.test(code) ? code : undefined;
}

/** Every code the engine and binding report that has a class here (a test keeps it equal to Rust's list). */
export function errorCodes(): string[] {
  return Object.keys(byCode).sort();
}
