/**
 * Kafka's numeric error codes: the one table of them (as kafkajs keeps one
 * in `src/protocol/error.js`), with Kafka's type name and kafkajs'
 * `retriable` flag. Everything that meets a numeric code (the remote
 * transport, the group client, admin) names it through here.
 */

/** [type, retriable] by Kafka error code: the codes a client meets; others are UNKNOWN. */
export const KAFKA_ERRORS: Readonly<Record<number, readonly [string, boolean]>> = {
  [-1]: ['UNKNOWN_SERVER_ERROR', false],
  0: ['NONE', false],
  1: ['OFFSET_OUT_OF_RANGE', false],
  2: ['CORRUPT_MESSAGE', true],
  3: ['UNKNOWN_TOPIC_OR_PARTITION', true],
  4: ['INVALID_FETCH_SIZE', false],
  5: ['LEADER_NOT_AVAILABLE', true],
  6: ['NOT_LEADER_OR_FOLLOWER', true],
  7: ['REQUEST_TIMED_OUT', true],
  10: ['MESSAGE_TOO_LARGE', false],
  12: ['OFFSET_METADATA_TOO_LARGE', false],
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
  23: ['INCONSISTENT_GROUP_PROTOCOL', false],
  24: ['INVALID_GROUP_ID', false],
  25: ['UNKNOWN_MEMBER_ID', false],
  26: ['INVALID_SESSION_TIMEOUT', false],
  27: ['REBALANCE_IN_PROGRESS', false],
  28: ['INVALID_COMMIT_OFFSET_SIZE', false],
  29: ['TOPIC_AUTHORIZATION_FAILED', false],
  30: ['GROUP_AUTHORIZATION_FAILED', false],
  31: ['CLUSTER_AUTHORIZATION_FAILED', false],
  35: ['UNSUPPORTED_VERSION', false],
  36: ['TOPIC_ALREADY_EXISTS', false],
  37: ['INVALID_PARTITIONS', false],
  38: ['INVALID_REPLICATION_FACTOR', false],
  39: ['INVALID_REPLICA_ASSIGNMENT', false],
  40: ['INVALID_CONFIG', false],
  41: ['NOT_CONTROLLER', true],
  42: ['INVALID_REQUEST', false],
  45: ['OUT_OF_ORDER_SEQUENCE_NUMBER', false],
  46: ['DUPLICATE_SEQUENCE_NUMBER', false],
  47: ['INVALID_PRODUCER_EPOCH', false],
  54: ['SECURITY_DISABLED', false],
  56: ['KAFKA_STORAGE_ERROR', true],
  58: ['SASL_AUTHENTICATION_FAILED', false],
  68: ['NON_EMPTY_GROUP', false],
  69: ['GROUP_ID_NOT_FOUND', false],
  73: ['TOPIC_DELETION_DISABLED', false],
  74: ['FENCED_LEADER_EPOCH', true],
  75: ['UNKNOWN_LEADER_EPOCH', true],
  79: ['MEMBER_ID_REQUIRED', false],
  81: ['GROUP_MAX_SIZE_REACHED', false],
  82: ['FENCED_INSTANCE_ID', false],
  85: ['NO_REASSIGNMENT_IN_PROGRESS', false],
  86: ['GROUP_SUBSCRIBED_TO_TOPIC', false],
  87: ['INVALID_RECORD', false],
};

/**
 * Codes whose type names here are not kafkajs 2.2.4's: Kafka renamed them
 * since (kafkajs says NOT_LEADER_FOR_PARTITION, GROUP_LOAD_IN_PROGRESS,
 * GROUP_COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR_FOR_GROUP, UNKNOWN), or
 * they are no error (NONE).
 */
export const NAMED_UNLIKE_KAFKAJS: ReadonlySet<number> = new Set([-1, 0, 6, 14, 15, 16]);

/** Kafka's error codes by type name: `KafkaErrorCode.UNKNOWN_MEMBER_ID === 25`. */
export const KafkaErrorCode: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(Object.entries(KAFKA_ERRORS).map(([code, [type]]) => [type, Number(code)])),
);

/** The type name of a code (`UNKNOWN` for one the table does not hold). */
export function kafkaErrorType(code: number): string {
  return KAFKA_ERRORS[code]?.[0] ?? 'UNKNOWN';
}

/** kafkajs' `retriable` flag of a code (false for one the table does not hold). */
export function kafkaErrorRetriable(code: number): boolean {
  return KAFKA_ERRORS[code]?.[1] ?? false;
}

/** The code of a type name, which must be in the table. */
export function kafkaCode(type: string): number {
  const code = KafkaErrorCode[type];
  if (code === undefined) throw new Error(`no Kafka error code is named ${type}`);
  return code;
}
