/**
 * Kafka's group error codes as kafkajs errors (`KafkaJSProtocolError` with
 * Kafka's `type` name and numeric `code`, retriable as kafkajs marks them).
 */
import { KafkaJSProtocolError } from '../errors';
import { kafkaCode, kafkaErrorType } from '../kafka-codes';

/** The group protocol's codes, by name, from the one table of Kafka's codes (kafka-codes.ts). */
const GROUP_CODE_NAMES = [
  'NONE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'OFFSET_METADATA_TOO_LARGE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'ILLEGAL_GENERATION',
  'INCONSISTENT_GROUP_PROTOCOL',
  'INVALID_GROUP_ID',
  'UNKNOWN_MEMBER_ID',
  'INVALID_SESSION_TIMEOUT',
  'REBALANCE_IN_PROGRESS',
  'INVALID_COMMIT_OFFSET_SIZE',
  'NON_EMPTY_GROUP',
  'GROUP_ID_NOT_FOUND',
  'MEMBER_ID_REQUIRED',
  'GROUP_MAX_SIZE_REACHED',
  'FENCED_INSTANCE_ID',
  'GROUP_SUBSCRIBED_TO_TOPIC',
] as const;

export const ErrorCodes = Object.freeze(
  Object.fromEntries(GROUP_CODE_NAMES.map((name) => [name, kafkaCode(name)])),
) as Readonly<Record<(typeof GROUP_CODE_NAMES)[number], number>>;

/**
 * Retried by the group client. kafkajs marks UNKNOWN_TOPIC_OR_PARTITION
 * retriable in general; in a group call it is not (the commit names a
 * partition that is gone), so the group keeps its own set.
 */
const RETRIABLE = new Set<number>([
  ErrorCodes.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCodes.COORDINATOR_NOT_AVAILABLE,
  ErrorCodes.NOT_COORDINATOR,
  ErrorCodes.REBALANCE_IN_PROGRESS,
]);

const MESSAGES: Record<number, string> = {
  [ErrorCodes.ILLEGAL_GENERATION]: 'Specified group generation id is not valid',
  [ErrorCodes.INCONSISTENT_GROUP_PROTOCOL]:
    "The group member's supported protocols are incompatible with those of existing members",
  [ErrorCodes.INVALID_GROUP_ID]: 'The configured groupId is invalid',
  [ErrorCodes.UNKNOWN_MEMBER_ID]: 'The coordinator is not aware of this member',
  [ErrorCodes.INVALID_SESSION_TIMEOUT]: 'The session timeout is not within the range allowed by the broker',
  [ErrorCodes.REBALANCE_IN_PROGRESS]: 'The group is rebalancing, so a rejoin is needed',
  [ErrorCodes.NON_EMPTY_GROUP]: 'The group is not empty',
  [ErrorCodes.GROUP_ID_NOT_FOUND]: 'The group id does not exist',
  [ErrorCodes.FENCED_INSTANCE_ID]:
    'The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id',
  [ErrorCodes.GROUP_SUBSCRIBED_TO_TOPIC]: 'The consumer group is actively subscribed to the topic',
};

const REBALANCE = new Set<number>([
  ErrorCodes.ILLEGAL_GENERATION,
  ErrorCodes.UNKNOWN_MEMBER_ID,
  ErrorCodes.REBALANCE_IN_PROGRESS,
]);

export class KafkaJSRebalanceError extends KafkaJSProtocolError {
  constructor(message: string, type: 'UNKNOWN_MEMBER_ID' | 'ILLEGAL_GENERATION' | 'REBALANCE_IN_PROGRESS') {
    super(message, type, kafkaCode(type), type === 'REBALANCE_IN_PROGRESS');
    this.name = 'KafkaJSRebalanceError';
  }
}

export function errorName(code: number): string {
  const type = kafkaErrorType(code);
  return type === 'UNKNOWN' ? `KAFKA_ERROR_${code}` : type;
}

/** A kafkajs error for a Kafka error code (never call with 0). */
export function groupError(code: number, context?: string): KafkaJSProtocolError {
  const base = MESSAGES[code] ?? errorName(code);
  const message = context === undefined ? base : `${base} (${context})`;
  if (REBALANCE.has(code)) {
    return new KafkaJSRebalanceError(message, errorName(code) as 'UNKNOWN_MEMBER_ID');
  }
  return new KafkaJSProtocolError(message, errorName(code), code, RETRIABLE.has(code));
}
