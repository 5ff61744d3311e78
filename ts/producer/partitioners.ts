/**
 * Partitioners with kafkajs' protocol: `createPartitioner()` returns
 * `({ topic, partitionMetadata, message }) => partition`.
 *
 * * `DefaultPartitioner`: Java-compatible murmur2, bit-exact with Apache
 *   Kafka's Java client: `(murmur2(keyBytes) & 0x7fffffff) % numPartitions`.
 * * `LegacyPartitioner`: kafkajs 1.x's murmur2 variant, which used float
 *   multiplication; reproduced bit for bit so old data keeps its partitions.
 *
 * Keyless messages: the producer's fast path puts all keyless messages of
 * one `send` call on one partition and moves to the next partition with the
 * next call (sticky per call, as the Java client's sticky partitioner does).
 * That makes one batch per call instead of one per partition, and spreads
 * evenly across calls. A custom partitioner is asked per message instead.
 */

import type { IHeaders } from '../codec/encoder';

export interface PartitionMetadata {
  partitionErrorCode: number;
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
  offlineReplicas?: number[];
}

export interface PartitionerArgs {
  topic: string;
  partitionMetadata: PartitionMetadata[];
  message: {
    key?: Buffer | string | null;
    value: Buffer | string | null;
    partition?: number;
    headers?: IHeaders;
    timestamp?: string;
  };
}

export type ICustomPartitioner = () => (args: PartitionerArgs) => number;

/** Marks the built-in partitioners so the producer can take its fast path. */
export const BUILT_IN = Symbol('ferrolog.partitioner');
export type BuiltInPartitioner = ICustomPartitioner & { [BUILT_IN]: (key: Uint8Array | string) => number };

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Where an ASCII string key's bytes are put to be hashed: no Buffer a key. */
const scratch = new Uint8Array(256);

/**
 * Runs `hash` over the key's UTF-8 bytes. An ASCII string (most keys) is
 * its char codes, copied into `scratch`, with no allocation; any other
 * string is encoded as Buffer.from encodes it (lone surrogates included).
 */
function hashKey(key: Uint8Array | string, hash: (data: Uint8Array, length: number) => number): number {
  if (typeof key !== 'string') return hash(key, key.length);
  const n = key.length;
  if (n <= scratch.length) {
    let i = 0;
    for (; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c > 0x7f) break;
      scratch[i] = c;
    }
    if (i === n) {
      // Bytes past the end read as 0, as past a Buffer's end (kafkajs 1.x's
      // loop reads up to 3 of them): no earlier key's bytes leak in.
      for (let k = n; k < n + 3 && k < scratch.length; k++) scratch[k] = 0;
      return hash(scratch, n);
    }
  }
  const data = Buffer.from(key, 'utf8');
  return hash(data, data.length);
}

/** Java's `Utils.murmur2` (signed 32-bit result), with exact 32-bit arithmetic. */
export function murmur2(key: Uint8Array | string): number {
  return hashKey(key, murmur2Bytes);
}

function murmur2Bytes(data: Uint8Array, length: number): number {
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k =
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= (data[whole + 2] as number) << 16;
  if (rest >= 2) h ^= (data[whole + 1] as number) << 8;
  if (rest >= 1) {
    h ^= data[whole] as number;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * kafkajs 1.x's murmur2: the same steps in JavaScript numbers, where
 * products are doubles (rounded past 2^53) and only the shifts and xors
 * truncate to 32 bits. Kept exact so LegacyPartitioner matches kafkajs.
 */
export function legacyMurmur2(key: Uint8Array | string): number {
  return hashKey(key, legacyMurmur2Bytes);
}

function legacyMurmur2Bytes(data: Uint8Array, length: number): number {
  let h: number = SEED ^ length;
  const words = length / 4;
  for (let i = 0; i < words; i++) {
    const at = i * 4;
    // Bytes past the end read as undefined (NaN after arithmetic, 0 after
    // bitwise ops), as in the original loop bound of length / 4.
    let k: number =
      ((data[at] as number) & 0xff) +
      (((data[at + 1] as number) & 0xff) << 8) +
      (((data[at + 2] as number) & 0xff) << 16) +
      (((data[at + 3] as number) & 0xff) << 24);
    k *= M;
    k ^= k >>> 24;
    k *= M;
    h *= M;
    h ^= k;
  }
  const rest = length % 4;
  if (rest === 3) h ^= ((data[(length & ~3) + 2] as number) & 0xff) << 16;
  if (rest >= 2) h ^= ((data[(length & ~3) + 1] as number) & 0xff) << 8;
  if (rest >= 1) {
    h ^= (data[length & ~3] as number) & 0xff;
    h *= M;
  }
  h ^= h >>> 13;
  h *= M;
  h ^= h >>> 15;
  return h;
}

const toPositive = (x: number): number => x & 0x7fffffff;

function create(hash: (key: Uint8Array | string) => number): BuiltInPartitioner {
  const factory = (() => {
    const counters = new Map<string, number>();
    return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
      if (message.partition !== null && message.partition !== undefined) return message.partition;
      const n = partitionMetadata.length;
      if (message.key !== null && message.key !== undefined) return toPositive(hash(message.key)) % n;
      const next = (counters.get(topic) ?? Math.floor(Math.random() * 0x7fffffff)) + 1;
      counters.set(topic, next);
      return toPositive(next) % n;
    };
  }) as BuiltInPartitioner;
  factory[BUILT_IN] = (key: Uint8Array | string) => toPositive(hash(key));
  return factory;
}

export const Partitioners = {
  DefaultPartitioner: create(murmur2),
  LegacyPartitioner: create(legacyMurmur2),
  /** @deprecated kafkajs' old name of DefaultPartitioner. */
  JavaCompatiblePartitioner: undefined as unknown as BuiltInPartitioner,
};
Partitioners.JavaCompatiblePartitioner = Partitioners.DefaultPartitioner;
