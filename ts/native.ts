/**
 * The private native binding: loads the compiled addon and describes its
 * shape. Nothing outside `ts/` imports this module; `log.ts` is the API.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as G from './group/types';
import type { RecoveryReport, SegmentDescription } from './log';

/** A topic as the binding reports it. */
export interface NativeTopicInfo {
  name: string;
  partitions: number;
  config: Record<string, string>;
}

export interface NativeLog {
  readonly dataDir: string;
  close(): Promise<void>;
  createTopic(name: string, partitions: number, config?: Record<string, string>): void;
  deleteTopic(name: string): void;
  createPartitions(name: string, total: number): void;
  alterTopicConfig(name: string, entries: Record<string, string>): void;
  topics(): NativeTopicInfo[];
  /** [logStartOffset, highWatermark, durableOffset] */
  watermarks(topic: string, partition: number): number[];
  partitionCount(topic: string): number;
  batchBytesMax(topic: string): number;
  allocateProducerId(): number;
  /** [baseOffset, lastOffset, logAppendTime, needsSync, logStartOffset, duplicate] */
  append(topic: string, partition: number, batch: Uint8Array): number[];
  syncTo(topic: string, partition: number, offset: number): Promise<void>;
  flush(): Promise<void>;
  /** [mapId, position, length, nextOffset, highWatermark, logStartOffset, mapLength] */
  read(topic: string, partition: number, offset: number, maxBytes: number): number[];
  lastMapBuffer(): ArrayBuffer | null;
  lastChunkCopy(): Buffer;
  waitForData(topic: string, partition: number, offset: number): { id: number; promise: Promise<boolean> };
  cancelWait(topic: string, partition: number, id: number): boolean;
  deleteRecords(topic: string, partition: number, offset: number): number;
  offsetForTimestamp(topic: string, partition: number, timestampMs: number): number;
  enforceRetention(): number;
  roll(topic: string, partition: number): void;
  segments(topic: string, partition: number): SegmentDescription[];
  recoveryReports(): RecoveryReport[];
  readonly readOnly: boolean;
  createInternalTopic(name: string, partitions: number, config?: Record<string, string>): void;
  /** [baseOffset, lastOffset] */
  appendInternal(topic: string, partition: number, batch: Uint8Array): number[];
  deleteRecordsInternal(topic: string, partition: number, offset: number): number;
}

interface Binding {
  NativeLog: {
    open(
      dir: string,
      options?: {
        defaultConfig?: Record<string, string>;
        readOnly?: boolean;
        fullRecovery?: boolean;
        retentionCheckIntervalMs?: number;
      },
    ): NativeLog;
  };
  groupJoin(log: NativeLog, req: G.JoinGroupRequest): Promise<G.JoinGroupResult>;
  groupSync(log: NativeLog, req: G.SyncGroupRequest): Promise<G.SyncGroupResult>;
  groupHeartbeat(log: NativeLog, req: G.HeartbeatRequest): Promise<number>;
  groupLeave: (log: NativeLog, ...a: Parameters<G.GroupCalls['leave']>) => ReturnType<G.GroupCalls['leave']>;
  groupCommit(log: NativeLog, req: G.OffsetCommitRequest): Promise<G.PartitionsResult>;
  groupFetchOffsets: (
    log: NativeLog,
    ...a: Parameters<G.GroupCalls['fetchOffsets']>
  ) => ReturnType<G.GroupCalls['fetchOffsets']>;
  groupDescribe(log: NativeLog, groupIds: string[]): Promise<G.DescribedGroup[]>;
  groupList: (log: NativeLog, ...a: Parameters<G.GroupCalls['list']>) => ReturnType<G.GroupCalls['list']>;
  groupDelete(log: NativeLog, groupIds: string[]): ReturnType<G.GroupCalls['delete']>;
  groupDeleteOffsets: (
    log: NativeLog,
    ...a: Parameters<G.GroupCalls['deleteOffsets']>
  ) => ReturnType<G.GroupCalls['deleteOffsets']>;
  crc32c(bytes: Uint8Array, start: number, end: number): number;
  compress(codec: number, data: Uint8Array, level?: number): Buffer;
  decompress(codec: number, data: Uint8Array, maxBytes: number): Buffer;
  benchPhysicalWrite(
    path: string,
    chunk: Uint8Array,
    totalBytes: number,
    mode: 'write' | 'mmap',
    fsyncEachChunk: boolean,
  ): number;
}

function load(): Binding {
  // dist/native.js sits beside dist/native/; the TypeScript sources (run by
  // the tests) find the same build one level up.
  const candidates = [
    join(__dirname, 'native', 'ferrolog.node'),
    join(__dirname, '..', 'dist', 'native', 'ferrolog.node'),
  ];
  for (const path of candidates) {
    if (existsSync(path)) return require(path) as Binding;
  }
  throw new Error(
    `ferrolog: the native addon is not built (looked in ${candidates.join(', ')}); run \`npm install\` or \`npm run build\``,
  );
}

export const binding: Binding = load();
