/** The RecordBatch v2 codec: encode records into batches, decode batches lazily. */

export type { BatchInfo, Decompressor } from './decoder';
export { decodeMessages, Message, readBatches, readBatchInfo, setDecompressor } from './decoder';
export type { BatchOptions, EncodedRecords, HeaderValue, IHeaders, RecordInput } from './encoder';
export { encodeBatch, encodeRecords, frameBatch } from './encoder';
