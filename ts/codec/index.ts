/** The RecordBatch v2 codec: encode records into batches, decode batches lazily. */
export type { BatchOptions, EncodedRecords, HeaderValue, IHeaders, RecordInput } from './encoder';
export { encodeBatch, encodeRecords, frameBatch } from './encoder';
export type { BatchInfo, Decompressor } from './decoder';
export { decodeMessages, Message, readBatchInfo, readBatches, setDecompressor } from './decoder';
