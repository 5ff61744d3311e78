/**
 * Kafka's numeric error codes (the table in ../kafka-codes.ts) as kafkajs'
 * classes: per-partition codes from responses, and the native client's errors.
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
import { KAFKA_ERRORS, KafkaErrorCode } from '../kafka-codes';

export { kafkaErrorType } from '../kafka-codes';

/** The kafkajs error for a Kafka error code. */
export function kafkaError(
  code: number,
  message?: string | null,
  where?: { topic: string; partition: number },
): KafkaJSProtocolError {
  const [type, retriable] = KAFKA_ERRORS[code] ?? ['UNKNOWN', false];
  const text = message && message.length > 0 ? message : type;
  const full = where === undefined ? text : `${text} (${where.topic}-${where.partition})`;
  if (code === KafkaErrorCode.OFFSET_OUT_OF_RANGE && where !== undefined)
    return new KafkaJSOffsetOutOfRange(full, where);
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
