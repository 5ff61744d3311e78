/**
 * Compression codecs, as kafkajs names them. All four are built in and run
 * natively (gzip, snappy in the xerial framing Kafka's Java client writes,
 * LZ4 frame, zstd frame). A codec registered the kafkajs way replaces the
 * built-in one for producing:
 *
 *   CompressionCodecs[CompressionTypes.Snappy] = () => ({ compress, decompress })
 */
import { InvalidArgumentError } from '../errors';
import { binding } from '../native';

export enum CompressionTypes {
  None = 0,
  GZIP = 1,
  Snappy = 2,
  LZ4 = 3,
  ZSTD = 4,
}

/** kafkajs' codec protocol: `compress` gets an object with the bytes in `buffer`. */
export interface CompressionCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/** The most bytes one batch's records may decompress to. */
export const DECOMPRESSED_BYTES_MAX = 256 * 1024 * 1024;

const builtIn = new WeakSet<() => CompressionCodec>();

function nativeCodec(type: CompressionTypes): () => CompressionCodec {
  const factory = (): CompressionCodec => ({
    compress: async (encoder) => binding.compress(type, encoder.buffer),
    decompress: async (buffer) => binding.decompress(type, buffer, DECOMPRESSED_BYTES_MAX),
  });
  builtIn.add(factory);
  return factory;
}

/** kafkajs' `CompressionCodecs`: factories by type. */
export const CompressionCodecs: Record<number, () => CompressionCodec> = {
  [CompressionTypes.GZIP]: nativeCodec(CompressionTypes.GZIP),
  [CompressionTypes.Snappy]: nativeCodec(CompressionTypes.Snappy),
  [CompressionTypes.LZ4]: nativeCodec(CompressionTypes.LZ4),
  [CompressionTypes.ZSTD]: nativeCodec(CompressionTypes.ZSTD),
};

const names: Record<string, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** A compression given as a `CompressionTypes` value or a name ('gzip', ...). */
export type CompressionSetting = CompressionTypes | 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export function parseCompression(v: unknown): CompressionTypes {
  if (v === undefined || v === null) return CompressionTypes.None;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 4) return v;
  if (typeof v === 'string' && v.toLowerCase() in names) return names[v.toLowerCase()] as CompressionTypes;
  throw new InvalidArgumentError(
    `compression must be one of none, gzip, snappy, lz4, zstd (or CompressionTypes), not ${String(v)}`,
  );
}

/**
 * Compresses a records section. Built-in codecs run natively and return at
 * once; a codec registered in CompressionCodecs is awaited.
 */
export function compressRecords(type: CompressionTypes, records: Buffer): Buffer | Promise<Buffer> {
  const factory = CompressionCodecs[type];
  if (factory === undefined) throw new InvalidArgumentError(`no codec registered for compression ${type}`);
  if (builtIn.has(factory)) return binding.compress(type, records);
  return factory().compress({ buffer: records });
}

/** Decompresses a records section with the native codecs (standard framings). */
export function decompressRecords(type: number, data: Buffer): Buffer {
  return binding.decompress(type, data, DECOMPRESSED_BYTES_MAX);
}
