/** The RecordBatch v2 codec: encode records into batches, decode batches lazily, compress. */
export type { CompressionCodec, CompressionSetting } from './compression';
export { CompressionCodecs, CompressionTypes, compressRecords, parseCompression } from './compression';
export type { BatchInfo } from './decoder';
export {
  DecodedMessage,
  decodeColumns,
  decodeMessages,
  RecordColumns,
  readBatches,
  readBatchInfo,
} from './decoder';
export type { BatchOptions, EncodedRecords, HeaderValue, IHeaders, RecordInput } from './encoder';
export { encodeBatch, encodeRecords, frameBatch } from './encoder';
