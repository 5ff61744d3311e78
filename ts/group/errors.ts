/**
 * Kafka's group error codes as kafkajs errors (`KafkaJSProtocolError` with
 * Kafka's `type` name and numeric `code`, retriable as kafkajs marks them).
 */
import { KafkaJSProtocolError } from '../errors';

export const ErrorCodes = {
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  OFFSET_METADATA_TOO_LARGE: 12,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  INVALID_GROUP_ID: 24,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  INVALID_COMMIT_OFFSET_SIZE: 28,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  MEMBER_ID_REQUIRED: 79,
  GROUP_MAX_SIZE_REACHED: 81,
  FENCED_INSTANCE_ID: 82,
  GROUP_SUBSCRIBED_TO_TOPIC: 86,
} as const;

const NAMES = new Map<number, string>(Object.entries(ErrorCodes).map(([k, v]) => [v, k]));
const RETRIABLE = new Set<number>([14, 15, 16, 27]);

const MESSAGES: Record<number, string> = {
  22: 'Specified group generation id is not valid',
  23: "The group member's supported protocols are incompatible with those of existing members",
  24: 'The configured groupId is invalid',
  25: 'The coordinator is not aware of this member',
  26: 'The session timeout is not within the range allowed by the broker',
  27: 'The group is rebalancing, so a rejoin is needed',
  68: 'The group is not empty',
  69: 'The group id does not exist',
  82: 'The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id',
  86: 'The consumer group is actively subscribed to the topic',
};

export class KafkaJSRebalanceError extends KafkaJSProtocolError {
  constructor(message: string, type: 'UNKNOWN_MEMBER_ID' | 'ILLEGAL_GENERATION' | 'REBALANCE_IN_PROGRESS') {
    super(
      message,
      type,
      type === 'UNKNOWN_MEMBER_ID' ? 25 : type === 'ILLEGAL_GENERATION' ? 22 : 27,
      type === 'REBALANCE_IN_PROGRESS',
    );
    this.name = 'KafkaJSRebalanceError';
  }
}

export function errorName(code: number): string {
  return NAMES.get(code) ?? `KAFKA_ERROR_${code}`;
}

/** A kafkajs error for a Kafka error code (never call with 0). */
export function groupError(code: number, context?: string): KafkaJSProtocolError {
  const base = MESSAGES[code] ?? errorName(code);
  const message = context === undefined ? base : `${base} (${context})`;
  if (code === 22 || code === 25 || code === 27) {
    return new KafkaJSRebalanceError(message, errorName(code) as 'UNKNOWN_MEMBER_ID');
  }
  return new KafkaJSProtocolError(message, errorName(code), code, RETRIABLE.has(code));
}
