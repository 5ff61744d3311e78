/**
 * Deserializers, the mirror of the producer's serializers:
 * `(bytes, { topic, partition, headers }) => T`. They run lazily, when a
 * handler reads `message.key` or `message.value`.
 */
import type { IHeaders } from '../codec';
import { KafkaJSNonRetriableError } from '../errors';

export interface DeserializerContext {
  topic: string;
  partition: number;
  headers: IHeaders;
}

/** Bytes (or null) to a value; null bytes may stay null, so a deserializer may return null. */
export type Deserializer<T> = (data: Buffer | null, context: DeserializerContext) => T | null;

/**
 * Typed so a `kafka.consumer<K, V>` checks its deserializers: `string` fits
 * only a string key or value, and `json` fits any type, which the caller
 * names, as with JSON.parse.
 */
export const Deserializers: {
  /** The default: the bytes as a Buffer view (or null). */
  buffer: Deserializer<Buffer>;
  /** UTF-8 text (null stays null). */
  string: Deserializer<string>;
  /** UTF-8 JSON (null stays null); the type is the consumer's `K` or `V`. */
  json: <T = unknown>(data: Buffer | null, context?: DeserializerContext) => T | null;
} = {
  buffer: (data) => data,
  string: (data) => (data === null ? null : data.toString('utf8')),
  json: <T>(data: Buffer | null): T | null =>
    data === null ? null : (JSON.parse(data.toString('utf8')) as T),
};

/** A deserializer threw. The raw bytes stay at hand in `raw`. */
export class KafkaJSDeserializationError extends KafkaJSNonRetriableError {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly field: 'key' | 'value';
  readonly raw: Buffer | null;
  constructor(
    meta: { topic: string; partition: number; offset: string; field: 'key' | 'value'; raw: Buffer | null },
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      `cannot deserialize the ${meta.field} of ${meta.topic}-${meta.partition} offset ${meta.offset}: ${why}`,
      {
        ...(cause instanceof Error ? { cause } : {}),
      },
    );
    this.name = 'KafkaJSDeserializationError';
    this.topic = meta.topic;
    this.partition = meta.partition;
    this.offset = meta.offset;
    this.field = meta.field;
    this.raw = meta.raw;
  }
}
