/**
 * The two ends a mirror connects: a local data directory (the engine, via
 * `Log` and its group coordinator) or Kafka brokers (the native remote
 * client). Both speak in whole RecordBatches: reads return stored bytes,
 * writes take batches as they are.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaConfig } from '../client/kafka';
import {
  InvalidArgumentError,
  InvalidProducerEpochError,
  KafkaJSProtocolError,
  LockedError,
  OutOfOrderSequenceError,
} from '../errors';
import { KafkaErrorCode } from '../kafka-codes';
import { groupCalls, Log } from '../log';
import { call, kafkaError } from '../transport/kafka-errors';
import { connectRemote, type NativeRemoteClient } from '../transport/native-remote';
import { remoteOptions } from '../transport/remote';
import type { GroupOps, MemberIdentity } from './membership';

export interface EndpointTopic {
  name: string;
  partitions: number;
  /** Configs set on the topic (not broker or engine defaults), Kafka-named. */
  configs: Record<string, string>;
}

export interface PartitionRead {
  topic: string;
  partition: number;
  /** Whole stored batches (a trailing partial one may follow; see wholeBatches). */
  chunk: Buffer;
  highWatermark: number;
  logStartOffset: number;
  /** 0, or the Kafka error code of this partition (1: OFFSET_OUT_OF_RANGE). */
  errorCode: number;
}

export interface OutgoingBatch {
  topic: string;
  partition: number;
  records: Buffer;
}

export interface WriteResult {
  errorCode: number;
  errorMessage?: string | null;
  /** The target offset after this batch (its last offset + 1), when known. */
  nextOffset: number;
}

export interface Committed {
  topic: string;
  partition: number;
  /** -1 when nothing is committed. */
  offset: number;
  metadata: string;
}

export interface Endpoint {
  readonly kind: 'local' | 'remote';
  readonly label: string;
  topics(): Promise<EndpointTopic[]>;
  /** Creates a topic; returns warnings for configs the target refused. */
  createTopic(name: string, partitions: number, configs: Record<string, string>): Promise<string[]>;
  createPartitions(name: string, total: number): Promise<void>;
  /** Sets `changed` on an existing topic, keeping its other configs; returns warnings. */
  alterConfigs(
    name: string,
    changed: Record<string, string>,
    current: Record<string, string>,
  ): Promise<string[]>;
  read(
    parts: { topic: string; partition: number; offset: number }[],
    maxBytesPerPartition: number,
    maxWaitMs: number,
    signal: AbortSignal,
  ): Promise<PartitionRead[]>;
  /** Several batches per partition go in order; results come in the input's order. */
  write(batches: OutgoingBatch[]): Promise<WriteResult[]>;
  /** Log end (high watermark) and log start of each partition. */
  offsets(parts: { topic: string; partition: number }[]): Promise<{ start: number; end: number }[]>;
  /** A producer id of this endpoint's own, never handed to anyone else. */
  newProducerId(): Promise<number>;
  /**
   * Commits as `member` (the mirror's static member; see membership.ts), or
   * outside group management when null. Resolves to 0, or the group error
   * code that fenced the member (FENCED_INSTANCE_ID, UNKNOWN_MEMBER_ID,
   * ILLEGAL_GENERATION); other failures throw.
   */
  commit(
    group: string,
    offsets: { topic: string; partition: number; offset: number; metadata: string }[],
    member?: MemberIdentity | null,
  ): Promise<number>;
  /** The group calls of this end's coordinator. */
  groups(): GroupOps;
  committed(group: string, topics: { topic: string; partitions: number[] }[]): Promise<Committed[]>;
  close(): Promise<void>;
}

/**
 * The topic configs both ferrolog's engine and Kafka understand with the
 * same meaning. Engine-only keys (`flush`, `segment.preallocate.bytes`) are
 * not sent to Kafka; Kafka-only keys are not sent to the engine (which
 * refuses unknown keys).
 */
export const PORTABLE_CONFIGS = new Set([
  'segment.bytes',
  'segment.ms',
  'retention.ms',
  'retention.bytes',
  'max.message.bytes',
  'index.interval.bytes',
  'message.timestamp.type',
  'cleanup.policy',
]);

/** The most a round reads, over all partitions (a Kafka fetch's total limit too). */
const ROUND_BYTES_MAX = 64 << 20;

/** ferrolog's own knobs, with no Kafka meaning (flush.ms/flush.messages are Kafka's too). */
export const ENGINE_ONLY_CONFIGS = new Set(['flush', 'segment.preallocate.bytes']);

const INTERNAL_TOPIC = /^__/;

/** Kafka error codes the mirror retries a write on (the batches carry their sequences, so resending is safe). */
const RETRIABLE_WRITE = new Set([3, 5, 6, 7, 13, 19, 20, 56, 74, 75]);

/** Commit errors that mean the committing member was replaced (FENCED_INSTANCE_ID, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION). */
const MEMBER_GONE = new Set([82, 25, 22]);

export function isRetriableWrite(code: number): boolean {
  return RETRIABLE_WRITE.has(code);
}

// ---------------------------------------------------------------- local

export class LocalEndpoint implements Endpoint {
  readonly kind = 'local' as const;
  readonly label: string;
  private readonly log: Log;
  private constructor(log: Log) {
    this.log = log;
    this.label = log.dataDir;
  }

  /**
   * Opens `dir`. A source held by another process is opened read-only (the
   * mirror only reads it; its progress lives with the target).
   */
  static open(dir: string, role: 'source' | 'target'): LocalEndpoint {
    let log: Log;
    try {
      log = Log.open(dir);
    } catch (e) {
      if (!(e instanceof LockedError) || role === 'target') throw e;
      log = Log.open(dir, { readOnly: true });
    }
    return new LocalEndpoint(log);
  }

  async topics(): Promise<EndpointTopic[]> {
    // Engine defaults, to tell a topic's own configs from them.
    const defaults = engineDefaults();
    return this.log
      .topics()
      .filter((t) => !INTERNAL_TOPIC.test(t.name))
      .map((t) => {
        const configs: Record<string, string> = {};
        for (const [k, v] of Object.entries(t.config)) {
          if (defaults[k] !== v) configs[k] = v;
        }
        return { name: t.name, partitions: t.partitions, configs };
      });
  }

  async createTopic(name: string, partitions: number, configs: Record<string, string>): Promise<string[]> {
    const warnings: string[] = [];
    const keep: Record<string, string> = {};
    for (const [k, v] of Object.entries(configs)) {
      if (PORTABLE_CONFIGS.has(k)) keep[k] = v;
      else warnings.push(`${name}: config ${k}=${v} is not one ferrolog's engine knows; not copied`);
    }
    try {
      this.log.createTopic(name, { partitions, config: keep });
    } catch (e) {
      if (!(e instanceof InvalidArgumentError) || Object.keys(keep).length === 0) throw e;
      // A value the engine refuses (a bound Kafka allows): create with the defaults and say so.
      warnings.push(
        `${name}: configs ${JSON.stringify(keep)} refused (${(e as Error).message}); created with defaults`,
      );
      this.log.createTopic(name, { partitions });
    }
    return warnings;
  }

  async createPartitions(name: string, total: number): Promise<void> {
    this.log.createPartitions(name, total);
  }

  async alterConfigs(name: string, changed: Record<string, string>): Promise<string[]> {
    const keep: Record<string, string> = {};
    const warnings: string[] = [];
    for (const [k, v] of Object.entries(changed)) {
      if (PORTABLE_CONFIGS.has(k)) keep[k] = v;
    }
    if (Object.keys(keep).length === 0) return warnings;
    try {
      this.log.alterTopicConfig(name, keep);
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      warnings.push(`${name}: configs ${JSON.stringify(keep)} refused (${(e as Error).message})`);
    }
    return warnings;
  }

  async read(
    parts: { topic: string; partition: number; offset: number }[],
    maxBytesPerPartition: number,
    maxWaitMs: number,
    signal: AbortSignal,
  ): Promise<PartitionRead[]> {
    // Past ROUND_BYTES_MAX in one round, the remaining partitions wait for the next (the mirror
    // rotates which goes first): memory stays bounded whatever the partition count.
    const once = () => {
      let total = 0;
      return parts.map((p) => {
        if (total >= ROUND_BYTES_MAX) return this.readOne(p, 0);
        const r = this.readOne(p, maxBytesPerPartition);
        total += r.chunk.byteLength;
        return r;
      });
    };
    let out = once();
    if (maxWaitMs <= 0 || out.some((r) => r.chunk.byteLength > 0 || r.errorCode !== 0)) return out;
    // Nothing anywhere: wait for the first partition to grow (or the timeout).
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race(
        parts.map((p) => this.log.waitForData(p.topic, p.partition, p.offset, maxWaitMs, stop.signal)),
      );
    } finally {
      stop.abort();
      signal.removeEventListener('abort', onAbort);
    }
    out = once();
    return out;
  }

  private readOne(p: { topic: string; partition: number; offset: number }, maxBytes: number): PartitionRead {
    const w = this.log.watermarks(p.topic, p.partition);
    if (p.offset < w.logStartOffset || p.offset > w.highWatermark) {
      return {
        topic: p.topic,
        partition: p.partition,
        chunk: Buffer.alloc(0),
        highWatermark: w.highWatermark,
        logStartOffset: w.logStartOffset,
        errorCode: 1,
      };
    }
    if (maxBytes === 0) {
      return {
        topic: p.topic,
        partition: p.partition,
        chunk: Buffer.alloc(0),
        highWatermark: w.highWatermark,
        logStartOffset: w.logStartOffset,
        errorCode: 0,
      };
    }
    const r = this.log.read(p.topic, p.partition, p.offset, maxBytes);
    return {
      topic: p.topic,
      partition: p.partition,
      chunk: r.batches,
      highWatermark: r.highWatermark,
      logStartOffset: r.logStartOffset,
      errorCode: 0,
    };
  }

  async write(batches: OutgoingBatch[]): Promise<WriteResult[]> {
    const out: WriteResult[] = [];
    const durable: Promise<void>[] = [];
    /** Partitions where a batch was refused: the ones after it are not appended (order), as Kafka's rounds. */
    const failed = new Map<string, number>();
    for (const b of batches) {
      const k = `${b.topic}\u0000${b.partition}`;
      const earlier = failed.get(k);
      if (earlier !== undefined) {
        out.push({ errorCode: earlier, nextOffset: -1 });
        continue;
      }
      try {
        // One native call per batch; a retried duplicate answers with its original offsets.
        const r = this.log.appendWithMetadata(b.topic, b.partition, b.records);
        if (r.durable !== null) durable.push(r.durable);
        out.push({ errorCode: 0, nextOffset: r.lastOffset + 1 });
      } catch (e) {
        // The engine's sequence checks are Kafka's: report them as Kafka's codes, so the mirror
        // handles both targets alike (45: realign from the target's log; 47: fenced, fatal).
        const code =
          e instanceof OutOfOrderSequenceError ? 45 : e instanceof InvalidProducerEpochError ? 47 : null;
        if (code === null) throw e;
        failed.set(k, code);
        out.push({ errorCode: code, errorMessage: (e as Error).message, nextOffset: -1 });
      }
    }
    await Promise.all(durable);
    return out;
  }

  async offsets(parts: { topic: string; partition: number }[]): Promise<{ start: number; end: number }[]> {
    return parts.map((p) => {
      const w = this.log.watermarks(p.topic, p.partition);
      return { start: w.logStartOffset, end: w.highWatermark };
    });
  }

  async newProducerId(): Promise<number> {
    return this.log.allocateProducerId();
  }

  async commit(
    group: string,
    offsets: { topic: string; partition: number; offset: number; metadata: string }[],
    member: MemberIdentity | null = null,
  ): Promise<number> {
    // Without a member: generation -1 and no member id, a commit outside group management.
    const r = await this.log[groupCalls]().commit({
      groupId: group,
      generationId: member?.generationId ?? -1,
      memberId: member?.memberId ?? '',
      ...(member === null ? {} : { groupInstanceId: member.groupInstanceId }),
      offsets,
    });
    const bad = r.partitions.find((p) => p.errorCode !== 0);
    const code = r.errorCode !== 0 ? r.errorCode : (bad?.errorCode ?? 0);
    if (member !== null && MEMBER_GONE.has(code)) return code;
    if (code !== 0) throw kafkaError(code, `committing the mirror's progress to group ${group}`);
    return 0;
  }

  groups(): GroupOps {
    const calls = () => this.log[groupCalls]();
    return {
      join: (r) => calls().join(r),
      sync: async (r) => (await calls().sync(r)).errorCode,
      heartbeat: (groupId, generationId, memberId, groupInstanceId) =>
        calls().heartbeat({ groupId, generationId, memberId, groupInstanceId }),
      leave: async (groupId, memberId, groupInstanceId) => {
        const r = await calls().leave(groupId, [{ memberId, groupInstanceId }]);
        return r.errorCode !== 0 ? r.errorCode : (r.members[0]?.errorCode ?? 0);
      },
    };
  }

  async committed(group: string, topics: { topic: string; partitions: number[] }[]): Promise<Committed[]> {
    const r = await this.log[groupCalls]().fetchOffsets(group, topics);
    return r.map((c) => ({
      topic: c.topic,
      partition: c.partition,
      offset: c.offset,
      metadata: c.metadata ?? '',
    }));
  }

  async close(): Promise<void> {
    await this.log.close();
  }
}

/** The engine's topic defaults, as `topics()` would list them for a topic created without configs. */
let defaultsCache: Record<string, string> | null = null;
function engineDefaults(): Record<string, string> {
  if (defaultsCache !== null) return defaultsCache;
  // The binding reports configs only per topic: describe a throwaway one in a throwaway directory.
  const dir = mkdtempSync(join(tmpdir(), 'ferrolog-mirror-defaults-'));
  const log = Log.open(dir);
  try {
    log.createTopic('defaults');
    defaultsCache = { ...(log.topics().find((t) => t.name === 'defaults')?.config ?? {}) };
  } finally {
    void log.close().finally(() => rmSync(dir, { recursive: true, force: true }));
  }
  return defaultsCache;
}

// ---------------------------------------------------------------- remote

export interface RemoteEndpointOptions {
  /** Replication factor of topics the mirror creates (default -1: the brokers' default). */
  replicationFactor?: number;
  /** Per-request timeout for produce and admin calls (default 30000). */
  timeoutMs?: number;
}

export class RemoteEndpoint implements Endpoint {
  readonly kind = 'remote' as const;
  readonly label: string;
  private readonly client: NativeRemoteClient;
  private readonly replicationFactor: number;
  private readonly timeoutMs: number;

  private constructor(client: NativeRemoteClient, label: string, options: RemoteEndpointOptions) {
    this.client = client;
    this.label = label;
    this.replicationFactor = options.replicationFactor ?? -1;
    this.timeoutMs = options.timeoutMs ?? 30000;
  }

  static async connect(
    config: KafkaConfig,
    clientId: string,
    options: RemoteEndpointOptions = {},
  ): Promise<RemoteEndpoint> {
    const o = await remoteOptions(config, clientId);
    const client = await call(() => connectRemote(o));
    return new RemoteEndpoint(client, o.brokers.join(','), options);
  }

  async topics(): Promise<EndpointTopic[]> {
    const md = await call(() => this.client.metadata(null));
    const topics = md.topics.filter(
      (t) => t.errorCode === 0 && !t.isInternal && !INTERNAL_TOPIC.test(t.name),
    );
    if (topics.length === 0) return [];
    const described = await call(() =>
      this.client.describeConfigs(
        topics.map((t) => ({ resourceType: 2, name: t.name })),
        false,
      ),
    );
    const configs = new Map<string, Record<string, string>>();
    for (const d of described) {
      const c: Record<string, string> = {};
      // Source 1 = DYNAMIC_TOPIC_CONFIG: set on the topic, not inherited.
      for (const e of d.entries) {
        if (e.configSource === 1 && !e.isSensitive && e.value !== null && e.value !== undefined)
          c[e.name] = e.value;
      }
      configs.set(d.name, c);
    }
    return topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.length,
      configs: configs.get(t.name) ?? {},
    }));
  }

  async createTopic(name: string, partitions: number, configs: Record<string, string>): Promise<string[]> {
    const warnings: string[] = [];
    const keep: Record<string, string> = {};
    for (const [k, v] of Object.entries(configs)) {
      if (!ENGINE_ONLY_CONFIGS.has(k)) keep[k] = v;
    }
    const create = (c: Record<string, string>, validateOnly: boolean) =>
      call(() =>
        this.client.createTopics(
          [{ name, numPartitions: partitions, replicationFactor: this.replicationFactor, configs: c }],
          this.timeoutMs,
          validateOnly,
        ),
      );
    let [r] = await create(keep, false);
    if (r !== undefined && r.errorCode === KafkaErrorCode.INVALID_CONFIG) {
      // INVALID_CONFIG names no key: find the refused ones one by one and create without them.
      for (const [k, v] of Object.entries(keep)) {
        const [t] = await create({ [k]: v }, true);
        if (t !== undefined && t.errorCode === KafkaErrorCode.INVALID_CONFIG) {
          warnings.push(
            `${name}: config ${k}=${v} refused by the target (${t.errorMessage ?? 'INVALID_CONFIG'})`,
          );
          delete keep[k];
        }
      }
      [r] = await create(keep, false);
    }
    if (r === undefined) throw new KafkaJSProtocolError(`no answer creating ${name}`, 'UNKNOWN', -1, true);
    if (r.errorCode !== 0 && r.errorCode !== KafkaErrorCode.TOPIC_ALREADY_EXISTS)
      throw kafkaError(r.errorCode, r.errorMessage, { topic: name, partition: -1 });
    return warnings;
  }

  async createPartitions(name: string, total: number): Promise<void> {
    const [r] = await call(() =>
      this.client.createPartitions([{ topic: name, partition: 0, value: total }], this.timeoutMs, false),
    );
    if (r !== undefined && r.errorCode !== 0)
      throw kafkaError(r.errorCode, r.errorMessage, { topic: name, partition: -1 });
  }

  async alterConfigs(
    name: string,
    changed: Record<string, string>,
    current: Record<string, string>,
  ): Promise<string[]> {
    const entries = Object.entries({ ...current, ...changed })
      .filter(([k]) => !ENGINE_ONLY_CONFIGS.has(k))
      .map(([k, v]) => ({ name: k, value: v }));
    // AlterConfigs (not the incremental kind) replaces a topic's whole set: send the merged one.
    const [r] = await call(() => this.client.alterConfigs([{ resourceType: 2, name, entries }], false));
    if (r !== undefined && r.errorCode !== 0) {
      return [
        `${name}: updating configs ${JSON.stringify(changed)} failed (${r.errorMessage ?? `error ${r.errorCode}`})`,
      ];
    }
    return [];
  }

  async read(
    parts: { topic: string; partition: number; offset: number }[],
    maxBytesPerPartition: number,
    maxWaitMs: number,
  ): Promise<PartitionRead[]> {
    const maxBytes = Math.min(ROUND_BYTES_MAX, maxBytesPerPartition * parts.length);
    const r = await call(() =>
      this.client.fetch(
        parts.map((p) => ({
          topic: p.topic,
          partition: p.partition,
          offset: p.offset,
          maxBytes: maxBytesPerPartition,
        })),
        // read_committed: an open transaction of the source is not copied before it ends.
        { maxWaitMs, minBytes: 1, maxBytes, isolationLevel: 1 },
      ),
    );
    return r.map((f) => ({
      topic: f.topic,
      partition: f.partition,
      chunk: f.records,
      highWatermark: f.highWatermark,
      logStartOffset: f.logStartOffset,
      errorCode: f.errorCode,
    }));
  }

  async write(batches: OutgoingBatch[]): Promise<WriteResult[]> {
    // acks=all: a batch counts as mirrored once every in-sync replica has it.
    const r = await call(() => this.client.produce(-1, this.timeoutMs, batches));
    return r.map((p, i) => {
      const count = recordSpan(batches[i]?.records);
      // DUPLICATE_SEQUENCE_NUMBER: the broker already has this batch (a resend after a restart).
      const errorCode = p.errorCode === KafkaErrorCode.DUPLICATE_SEQUENCE_NUMBER ? 0 : p.errorCode;
      return {
        errorCode,
        errorMessage: p.errorMessage ?? null,
        nextOffset: p.baseOffset >= 0 ? p.baseOffset + count : -1,
      };
    });
  }

  async offsets(parts: { topic: string; partition: number }[]): Promise<{ start: number; end: number }[]> {
    const [ends, starts] = await Promise.all([
      call(() => this.client.listOffsets(parts.map((p) => ({ ...p, value: -1 })))),
      call(() => this.client.listOffsets(parts.map((p) => ({ ...p, value: -2 })))),
    ]);
    return parts.map((p, i) => {
      const e = ends[i];
      const s = starts[i];
      if (e === undefined || s === undefined)
        throw new KafkaJSProtocolError('short ListOffsets answer', 'UNKNOWN', -1, true);
      if (e.errorCode !== 0) throw kafkaError(e.errorCode, null, p);
      if (s.errorCode !== 0) throw kafkaError(s.errorCode, null, p);
      return { start: s.offset, end: e.offset };
    });
  }

  async newProducerId(): Promise<number> {
    const id = await call(() => this.client.initProducerId(null));
    return id.producerId;
  }

  async commit(
    group: string,
    offsets: { topic: string; partition: number; offset: number; metadata: string }[],
    member: MemberIdentity | null = null,
  ): Promise<number> {
    const r = await call(() =>
      this.client.offsetCommit(
        group,
        member?.generationId ?? -1,
        member?.memberId ?? '',
        member?.groupInstanceId ?? null,
        offsets,
      ),
    );
    const bad = r.find((p) => p.errorCode !== 0);
    if (bad !== undefined && member !== null && MEMBER_GONE.has(bad.errorCode)) return bad.errorCode;
    if (bad !== undefined)
      throw kafkaError(bad.errorCode, `committing the mirror's progress to group ${group}`, bad);
    return 0;
  }

  groups(): GroupOps {
    return {
      join: (r) =>
        call(() =>
          this.client.joinGroup({
            groupId: r.groupId,
            sessionTimeoutMs: r.sessionTimeout,
            rebalanceTimeoutMs: r.rebalanceTimeout,
            memberId: r.memberId,
            groupInstanceId: r.groupInstanceId,
            protocolType: r.protocolType,
            protocols: r.protocols,
          }),
        ),
      sync: async (r) =>
        (
          await call(() =>
            this.client.syncGroup(
              r.groupId,
              r.generationId,
              r.memberId,
              r.groupInstanceId,
              r.protocolType,
              r.protocolName,
              r.assignments,
            ),
          )
        ).errorCode,
      heartbeat: (groupId, generationId, memberId, groupInstanceId) =>
        call(() => this.client.heartbeat(groupId, generationId, memberId, groupInstanceId)),
      leave: (groupId, memberId, groupInstanceId) =>
        call(() => this.client.leaveGroup(groupId, memberId, groupInstanceId)),
    };
  }

  async committed(group: string, topics: { topic: string; partitions: number[] }[]): Promise<Committed[]> {
    const r = await call(() => this.client.offsetFetch(group, topics));
    const bad = r.find((p) => p.errorCode !== 0);
    if (bad !== undefined)
      throw kafkaError(bad.errorCode, `reading the mirror's progress from group ${group}`, bad);
    return r.map((c) => ({
      topic: c.topic,
      partition: c.partition,
      offset: c.offset,
      metadata: c.metadata ?? '',
    }));
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

/** Offsets a batch spans (last offset delta + 1). */
function recordSpan(records: Buffer | undefined): number {
  if (records === undefined || records.byteLength < 27) return 0;
  return records.readInt32BE(23) + 1;
}

export function checkPositiveInteger(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new InvalidArgumentError(`${name} must be a positive integer, not ${String(v)}`);
}
