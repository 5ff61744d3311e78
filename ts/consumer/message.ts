/**
 * A consumed message with deserializers: key and value are decoded lazily,
 * when the handler reads them, and a failure is a KafkaJSDeserializationError
 * that carries the raw bytes (`rawKey`, `rawValue` stay available).
 */
import type { DecodedMessage, IHeaders } from '../codec';
import { type Deserializer, KafkaJSDeserializationError } from './deserializers';
import type { KafkaMessage } from './types';

export class ConsumedMessage<K, V> implements KafkaMessage<K, V> {
  readonly attributes = 0;
  private k: K | null | undefined;
  private v: V | null | undefined;
  constructor(
    private readonly raw: DecodedMessage,
    private readonly topic: string,
    private readonly partition: number,
    private readonly keyDes: Deserializer<K> | undefined,
    private readonly valueDes: Deserializer<V> | undefined,
  ) {}
  get offset(): string {
    return this.raw.offset;
  }
  get timestamp(): string {
    return this.raw.timestamp;
  }
  get headers(): IHeaders {
    return this.raw.headers;
  }
  get rawKey(): Buffer | null {
    return this.raw.key;
  }
  get rawValue(): Buffer | null {
    return this.raw.value;
  }
  private run<T>(des: Deserializer<T>, field: 'key' | 'value', data: Buffer | null): T | null {
    try {
      return des(data, { topic: this.topic, partition: this.partition, headers: this.raw.headers });
    } catch (e) {
      throw new KafkaJSDeserializationError(
        { topic: this.topic, partition: this.partition, offset: this.raw.offset, field, raw: data },
        e,
      );
    }
  }
  get key(): K | null {
    if (this.keyDes === undefined) return this.raw.key as K | null;
    if (this.k === undefined) this.k = this.run(this.keyDes, 'key', this.raw.key);
    return this.k;
  }
  get value(): V | null {
    if (this.valueDes === undefined) return this.raw.value as V | null;
    if (this.v === undefined) this.v = this.run(this.valueDes, 'value', this.raw.value);
    return this.v;
  }
  toJSON(): object {
    return { ...this.raw.toJSON() };
  }
}
