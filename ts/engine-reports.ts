/**
 * What the engine reports about a data directory: recovery's decisions
 * (`Log#recoveryReports`, `Log.verify`) and a segment file's batches
 * (`Log.dumpSegment`). Plain types, shared by log.ts and native.ts; the
 * binding builds these objects (crates/node/src/lib.rs and tools.rs).
 */

/**
 * One decision recovery made when the engine opened (or, read-only, would
 * have made). Nothing is ever deleted: what Kafka's recovery would delete is
 * moved into `<dataDir>/.quarantine/` (`movedTo`).
 */
export interface RecoveryReport {
  /** Empty for findings about the data directory itself. */
  topic: string;
  partition: number;
  /**
   * `truncated`: a segment was cut at a bad batch (the bytes cut are in
   * `movedTo`); `quarantined`: a segment file was moved aside; `adopted`: a
   * partition directory ferrolog did not create became a topic's;
   * `ignored`: something was left as it is and not used; `corrected`: a
   * checkpoint contradicted the segments.
   */
  action: 'truncated' | 'quarantined' | 'adopted' | 'ignored' | 'corrected';
  /** Where the log now ends (truncated), or the corrected offset. */
  offset: number;
  /** The file or directory concerned. */
  path: string;
  movedTo?: string | null;
  /** False when a read-only open only decided it. */
  applied: boolean;
  reason: string;
}

/** What `Log.verify` found: recovery's decisions, and each partition as the engine kept it. */
export interface VerifyResult {
  /** Recovery's decisions (`applied` false when only verifying). */
  findings: RecoveryReport[];
  partitions: {
    topic: string;
    partition: number;
    segments: number;
    bytes: number;
    logStartOffset: number;
    highWatermark: number;
    /** Batches of the kept segments that fail their CRC or framing. */
    problems: string[];
  }[];
}

/** One batch of a segment file, as its header says. */
export interface DumpedBatch {
  position: number;
  baseOffset: number;
  lastOffset: number;
  recordCount: number;
  sizeBytes: number;
  partitionLeaderEpoch: number;
  crc: number;
  crcValid: boolean;
  compression: string;
  logAppendTime: boolean;
  transactional: boolean;
  control: boolean;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  /** The whole batch, when records were asked for and its CRC holds. */
  bytes?: Buffer;
}

/** One chunk of `Log.dumpSegment`. */
export interface SegmentDump {
  batches: DumpedBatch[];
  /** Where the next call starts; equal to `fileSize` at the end. */
  nextPosition: number;
  fileSize: number;
  /** Why the walk stopped early: `padding` (preallocated zeros follow), or what is wrong at `nextPosition`. */
  stop?: string | null;
}
