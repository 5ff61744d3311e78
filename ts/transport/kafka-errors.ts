/**
 * Kafka's numeric error codes, mapped once to kafkajs' classes: per-partition
 * codes from responses, and the native client's `ERR_...` errors.
 */
import {
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSOffsetOutOfRange,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
  nativeCode,
} from '../errors';

/** [type, retriable] by Kafka error code (the ones a client meets; others get UNKNOWN). */
const CODES: Record<number, [string, boolean]> = {
  [-1]: ['UNKNOWN_SERVER_ERROR', false],
  1: ['OFFSET_OUT_OF_RANGE', false],
  2: ['CORRUPT_MESSAGE', true],
  3: ['UNKNOWN_TOPIC_OR_PARTITION', true],
  4: ['INVALID_FETCH_SIZE', false],
  5: ['LEADER_NOT_AVAILABLE', true],
  6: ['NOT_LEADER_OR_FOLLOWER', true],
  7: ['REQUEST_TIMED_OUT', true],
  10: ['MESSAGE_TOO_LARGE', false],
  13: ['NETWORK_EXCEPTION', true],
  14: ['COORDINATOR_LOAD_IN_PROGRESS', true],
  15: ['COORDINATOR_NOT_AVAILABLE', true],
  16: ['NOT_COORDINATOR', true],
  17: ['INVALID_TOPIC_EXCEPTION', false],
  18: ['RECORD_LIST_TOO_LARGE', false],
  19: ['NOT_ENOUGH_REPLICAS', true],
  20: ['NOT_ENOUGH_REPLICAS_AFTER_APPEND', true],
  21: ['INVALID_REQUIRED_ACKS', false],
  22: ['ILLEGAL_GENERATION', false],
  25: ['UNKNOWN_MEMBER_ID', false],
  27: ['REBALANCE_IN_PROGRESS', false],
  29: ['TOPIC_AUTHORIZATION_FAILED', false],
  30: ['GROUP_AUTHORIZATION_FAILED', false],
  31: ['CLUSTER_AUTHORIZATION_FAILED', false],
  35: ['UNSUPPORTED_VERSION', false],
  36: ['TOPIC_ALREADY_EXISTS', false],
  37: ['INVALID_PARTITIONS', false],
  38: ['INVALID_REPLICATION_FACTOR', false],
  40: ['INVALID_CONFIG', false],
  41: ['NOT_CONTROLLER', true],
  42: ['INVALID_REQUEST', false],
  45: ['OUT_OF_ORDER_SEQUENCE_NUMBER', false],
  46: ['DUPLICATE_SEQUENCE_NUMBER', false],
  47: ['INVALID_PRODUCER_EPOCH', false],
  56: ['KAFKA_STORAGE_ERROR', true],
  58: ['SASL_AUTHENTICATION_FAILED', false],
  68: ['NON_EMPTY_GROUP', false],
  69: ['GROUP_ID_NOT_FOUND', false],
  73: ['TOPIC_DELETION_DISABLED', false],
  74: ['FENCED_LEADER_EPOCH', true],
  75: ['UNKNOWN_LEADER_EPOCH', true],
  87: ['INVALID_RECORD', false],
};

export function kafkaErrorType(code: number): string {
  return CODES[code]?.[0] ?? 'UNKNOWN';
}

/** The kafkajs error for a Kafka error code. */
export function kafkaError(
  code: number,
  message?: string | null,
  where?: { topic: string; partition: number },
): KafkaJSProtocolError {
  const [type, retriable] = CODES[code] ?? ['UNKNOWN', false];
  const text = message && message.length > 0 ? message : type;
  const full = where === undefined ? text : `${text} (${where.topic}-${where.partition})`;
  if (code === 1 && where !== undefined) return new KafkaJSOffsetOutOfRange(full, where);
  return new KafkaJSProtocolError(full, type, code, retriable);
}

/** The kafkajs error for something the native client threw (its `code` is `ERR_...`). */
export function fromRemote(e: unknown): KafkaJSError {
  if (e instanceof KafkaJSError) return e;
  const text = e instanceof Error ? e.message : String(e);
  const code = nativeCode(e);
  if (code === undefined) return new KafkaJSNonRetriableError(text);
  const kafka = /^ERR_KAFKA_(-?\d+)$/.exec(code);
  if (kafka !== null) return kafkaError(Number(kafka[1]), text);
  switch (code) {
    case 'ERR_CONNECTION':
      return new KafkaJSConnectionError(text);
    case 'ERR_TIMEOUT':
      return new KafkaJSRequestTimeoutError(text);
    case 'ERR_AUTHENTICATION':
      return new KafkaJSSASLAuthenticationError(text);
    default:
      return new KafkaJSNonRetriableError(`${code}: ${text}`);
  }
}

/** Runs a native call, turning its rejection into the kafkajs error. */
export async function call<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (e) {
    throw fromRemote(e);
  }
}
