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

export type Deserializer<T> = (data: Buffer | null, context: DeserializerContext) => T;

export const Deserializers = {
  /** The default: the bytes as a Buffer view (or null). */
  buffer: ((data: Buffer | null) => data) as Deserializer<Buffer | null>,
  /** UTF-8 text (null stays null). */
  string: ((data: Buffer | null) => (data === null ? null : data.toString('utf8'))) as Deserializer<
    string | null
  >,
  /** UTF-8 JSON (null stays null). */
  json: ((data: Buffer | null) =>
    data === null ? null : JSON.parse(data.toString('utf8'))) as Deserializer<unknown>,
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
