/**
 * Serializers turn application data into the bytes a record holds, before
 * partitioning. `(data, { topic, headers }) => Buffer | string | null`.
 */
import type { IHeaders } from '../codec';
import { InvalidArgumentError } from '../errors';

export interface SerializerContext {
  topic: string;
  headers: IHeaders;
}

export type Serializer<T> = (data: T, context: SerializerContext) => Buffer | Uint8Array | string | null;

/** What the default serializer takes: bytes, a string, or null. */
export type RawValue = Buffer | Uint8Array | string | null;

const passThrough: Serializer<RawValue> = (data) => {
  if (data === null || data === undefined || typeof data === 'string' || data instanceof Uint8Array)
    return data ?? null;
  throw new InvalidArgumentError(`must be a Buffer, string or null, not ${typeof data}`);
};

export const Serializers = {
  /** The default: Buffer, Uint8Array, string or null, passed through. */
  buffer: passThrough,
  /** A string, written as UTF-8 (null stays null). */
  string: ((data: string | null) => {
    if (data === null || data === undefined) return null;
    if (typeof data !== 'string') throw new InvalidArgumentError(`must be a string, not ${typeof data}`);
    return data;
  }) as Serializer<string | null>,
  /** Any JSON-serialisable value, written as UTF-8 JSON (null stays null). */
  json: ((data: unknown) => {
    if (data === null) return null;
    const text = JSON.stringify(data);
    if (text === undefined) throw new InvalidArgumentError(`${typeof data} is not JSON-serialisable`);
    return text;
  }) as Serializer<unknown>,
};
