/**
 * Error classes. The kafkajs 2.2.4 names and `retriable` flags come first, so
 * `instanceof KafkaJSError` checks written for kafkajs keep working; the
 * engine's own errors extend them, each with a stable `code`.
 */

/** kafkajs' root error. `retriable` says whether trying again may succeed. */
export class KafkaJSError extends Error {
  readonly retriable: boolean;
  readonly helpUrl?: string;
  override readonly cause?: Error;

  constructor(e: string | Error, options: { retriable?: boolean; cause?: Error } = {}) {
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

/** A Kafka protocol error, named by its Kafka error `type` (e.g. `UNKNOWN_TOPIC_OR_PARTITION`). */
export class KafkaJSProtocolError extends KafkaJSError {
  readonly type: string;
  readonly code: number | string;

  constructor(e: string | Error, type: string, code: number | string, retriable: boolean) {
    super(e, { retriable });
    this.name = 'KafkaJSProtocolError';
    this.type = type;
    this.code = code;
  }
}

export class KafkaJSOffsetOutOfRange extends KafkaJSProtocolError {
  readonly topic: string;
  readonly partition: number;
  constructor(e: string | Error, meta: { topic: string; partition: number }) {
    super(e, 'OFFSET_OUT_OF_RANGE', 1, false);
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
  constructor(e: Error, meta: { retryCount: number; retryTime: number }) {
    super(e, { cause: e });
    this.name = 'KafkaJSNumberOfRetriesExceeded';
    this.retryCount = meta.retryCount;
    this.retryTime = meta.retryTime;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') this.code = code;
  }
}

export class KafkaJSConnectionError extends KafkaJSError {
  constructor(e: string | Error) {
    super(e, { retriable: true });
    this.name = 'KafkaJSConnectionError';
  }
}

export class KafkaJSTimeout extends KafkaJSError {
  constructor(e: string | Error) {
    super(e, { retriable: true });
    this.name = 'KafkaJSTimeout';
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
  /** kafkajs reports this as a protocol error of this type. */
  readonly type = 'UNKNOWN_TOPIC_OR_PARTITION';
  constructor(message: string) {
    super('ERR_UNKNOWN_TOPIC_OR_PARTITION', message);
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
  constructor(message: string) {
    super('ERR_LOCKED', message, true);
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
 * Turns an error thrown by the native binding (`ERR_CODE: message`) into its
 * typed class. Anything else (napi's own argument errors) becomes an
 * InvalidArgumentError, since only a wrong argument produces those.
 */
export function fromNative(e: unknown): FerrologError {
  if (e instanceof FerrologError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const match = /^(ERR_[A-Z_]+): ([\s\S]*)$/.exec(message);
  if (match) {
    const Ctor = byCode[match[1] as string];
    if (Ctor) return new Ctor(match[2] as string);
    return new FerrologError(match[1] as string, match[2] as string);
  }
  return new InvalidArgumentError(message);
}

/** Every code the engine and binding report that has a class here (a test keeps it equal to Rust's list). */
export function errorCodes(): string[] {
  return Object.keys(byCode).sort();
}
