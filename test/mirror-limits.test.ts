/**
 * The mirror's former limits (issue #14): produce requests pipelined per
 * partition with an idempotent producer's retry rules, source offset gaps
 * without new epochs, one mirror per name, a start inside a batch, and the
 * progress group's offsets being target positions.
 *
 * The CLI runs from dist/ (`npm run build:ts`), as in cli.test.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes, Kafka, Log, logLevel, Mirror, MirrorFencedError } from '../ts';
import { decodeMessages, encodeBatch } from '../ts/codec';
import * as F from '../ts/codec/format';
import { groupCalls } from '../ts/log';
import { type BatchRef, wholeBatches } from '../ts/mirror/batches';
import {
  type Endpoint,
  type EndpointTopic,
  LocalEndpoint,
  type OutgoingBatch,
  type PartitionRead,
  RemoteEndpoint,
  type WriteResult,
} from '../ts/mirror/endpoints';
import { tempDir } from './helpers';
import { javaAvailable, runKafkaClass } from './kafka/jars.mjs';
import { type SharedKafka, useKafka } from './kafka/shared.mjs';

const bin = join(__dirname, '..', 'dist', 'cli', 'main.js');

/** Every record of a partition as `offset|timestamp|key|value`, and the batches it is stored in. */
function contents(log: Log, topic: string, partition: number): { records: string[]; batches: BatchRef[] } {
  const records: string[] = [];
  const batches: BatchRef[] = [];
  const { highWatermark } = log.watermarks(topic, partition);
  let offset = log.watermarks(topic, partition).logStartOffset;
  while (offset < highWatermark) {
    const r = log.read(topic, partition, offset, 4 << 20);
    for (const b of wholeBatches(r.batches)) if (b.lastOffset >= offset) batches.push(b);
    for (const m of decodeMessages(r.batches, offset)) {
      records.push(`${m.timestamp}|${m.key?.toString()}|${m.value?.toString()}`);
    }
    if (r.nextOffset <= offset) throw new Error(`no progress reading ${topic}-${partition} at ${offset}`);
    offset = r.nextOffset;
  }
  return { records, batches };
}

function records(from: number, count: number, prefix = 'k') {
  return Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`${prefix}${from + i}`),
    value: Buffer.from(`v${from + i}`),
    timestamp: 1_700_000_000_000 + from + i,
    headers: (from + i) % 3 === 0 ? { h: Buffer.from(`x${from + i}`) } : {},
  }));
}

/**
 * A target that holds every write for a moment before passing it on in
 * order (as a connection does), counting the requests in flight per
 * partition; `fail(n)` answers the n-th request (1-based) with a retriable
 * error without storing it.
 */
function slowTarget(
  inner: Endpoint,
  fail: (n: number) => number | null = () => null,
): { target: Endpoint; maxInFlight: () => number; maxCalls: () => number; codes: number[] } {
  const inFlight = new Map<string, number>();
  let max = 0;
  let n = 0;
  let calls = 0;
  let maxCalls = 0;
  const codes: number[] = [];
  const write = async (batches: OutgoingBatch[]): Promise<WriteResult[]> => {
    const keys = batches.map((b) => `${b.topic}-${b.partition}`);
    for (const k of keys) {
      const now = (inFlight.get(k) ?? 0) + 1;
      inFlight.set(k, now);
      max = Math.max(max, now);
    }
    calls++;
    maxCalls = Math.max(maxCalls, calls);
    const code = fail(++n);
    try {
      await new Promise((r) => setTimeout(r, 5));
      if (code !== null) return batches.map(() => ({ errorCode: code, nextOffset: -1 }));
      const results = await inner.write(batches);
      for (const r of results) codes.push(r.errorCode);
      return results;
    } finally {
      for (const k of keys) inFlight.set(k, (inFlight.get(k) ?? 1) - 1);
      calls--;
    }
  };
  const target = new Proxy(inner, {
    get(t, p) {
      if (p === 'write') return write;
      const v = Reflect.get(t, p);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  return { target, maxInFlight: () => max, maxCalls: () => maxCalls, codes };
}

describe('mirror: pipelined writes', () => {
  async function source(): Promise<string> {
    const dir = tempDir();
    const log = Log.open(dir);
    log.createTopic('p', { partitions: 2 });
    // 40 batches of 25 per partition: small batches, the case pipelining is for.
    for (let i = 0; i < 40; i++) {
      for (let p = 0; p < 2; p++) log.append('p', p, encodeBatch(records(i * 25, 25, `p${p}-`)));
    }
    await log.close();
    return dir;
  }

  async function check(dir1: string, dir2: string): Promise<void> {
    const a = Log.open(dir1, { readOnly: true });
    const b = Log.open(dir2, { readOnly: true });
    try {
      for (let p = 0; p < 2; p++) {
        const want = contents(a, 'p', p);
        const got = contents(b, 'p', p);
        expect(got.records).toEqual(want.records);
        expect(got.records.length).toBe(1000);
        expect(got.batches.length).toBe(40);
      }
    } finally {
      await a.close();
      await b.close();
    }
  }

  it('keeps five produce requests in flight per partition, never more, and copies exactly once', async () => {
    const dir1 = await source();
    const dir2 = tempDir();
    const slow = slowTarget(LocalEndpoint.open(dir2, 'target'));
    const m = new Mirror(LocalEndpoint.open(dir1, 'source'), slow.target, {
      name: 'pipe',
      stopWhenCaughtUp: true,
      maxBytesPerPartition: 64 << 10,
    });
    await m.run();
    // Five requests at once, each with one batch per partition (Kafka takes no more per request).
    expect(slow.maxCalls()).toBe(5);
    expect(slow.maxInFlight()).toBe(5);
    await check(dir1, dir2);

    // The bound is an option (1 is one request at a time per partition, as before).
    const dir3 = tempDir();
    const one = slowTarget(LocalEndpoint.open(dir3, 'target'));
    await new Mirror(LocalEndpoint.open(dir1, 'source'), one.target, {
      name: 'one',
      stopWhenCaughtUp: true,
      maxInFlightPerPartition: 1,
    }).run();
    expect(one.maxInFlight()).toBe(1);
    expect(one.maxCalls()).toBe(1);
    await check(dir1, dir3);
    expect(
      () => new Mirror(LocalEndpoint.open(dir1, 'source'), one.target, { maxInFlightPerPartition: 6 }),
    ).toThrow(/at most 5/);
  });

  it('after a failed request, resends it and the ones behind it (refused as out of order) in order', async () => {
    const dir1 = await source();
    const dir2 = tempDir();
    // The third and the eighth requests fail with NOT_LEADER_OR_FOLLOWER (6): the requests in flight
    // behind them reach the engine out of sequence and are refused (OUT_OF_ORDER_SEQUENCE).
    const slow = slowTarget(LocalEndpoint.open(dir2, 'target'), (n) => (n === 3 || n === 8 ? 6 : null));
    const m = new Mirror(LocalEndpoint.open(dir1, 'source'), slow.target, {
      name: 'retry',
      stopWhenCaughtUp: true,
    });
    const warnings: string[] = [];
    m.on('warning', (w: string) => warnings.push(w));
    await m.run();
    expect(warnings.filter((w) => /error 6/.test(w)).length).toBeGreaterThanOrEqual(2);
    // Requests in flight behind a failed one were refused by the target as out of sequence.
    expect(slow.codes.filter((c) => c === 45).length).toBeGreaterThan(0);
    await check(dir1, dir2);
    const b = Log.open(dir2, { readOnly: true });
    try {
      // Nothing but the mirror's one producer identity in epoch 0.
      for (let p = 0; p < 2; p++) {
        expect(
          new Set(contents(b, 'p', p).batches.map((x) => `${x.producerId}/${x.producerEpoch}`)).size,
        ).toBe(1);
      }
    } finally {
      await b.close();
    }
  });
});

/**
 * A source with offset gaps, as a compacted topic or one with transactions
 * leaves them: batches at the given base offsets, 5 records each.
 */
class GappySource implements Endpoint {
  readonly kind = 'remote' as const;
  readonly label = 'gappy';
  readonly batches: Buffer[];
  readonly topic: string;
  constructor(bases: number[], topic = 'gaps') {
    this.topic = topic;
    this.batches = bases.map((base) => {
      const b = encodeBatch(records(base, 5));
      F.writeInt64(b, F.BASE_OFFSET, base);
      return b;
    });
  }
  private get end(): number {
    const last = this.batches[this.batches.length - 1] as Buffer;
    return F.readInt64(last, F.BASE_OFFSET) + 5;
  }
  async topics(): Promise<EndpointTopic[]> {
    return [{ name: this.topic, partitions: 1, configs: {} }];
  }
  async read(
    parts: { topic: string; partition: number; offset: number }[],
    maxBytes: number,
  ): Promise<PartitionRead[]> {
    return parts.map((p) => {
      const out: Buffer[] = [];
      let size = 0;
      for (const b of this.batches) {
        if (F.readInt64(b, F.BASE_OFFSET) + 4 < p.offset) continue;
        if (out.length > 0 && size + b.byteLength > maxBytes) break;
        out.push(b);
        size += b.byteLength;
      }
      return {
        ...p,
        chunk: Buffer.concat(out),
        highWatermark: this.end,
        logStartOffset: 0,
        errorCode: 0,
      };
    });
  }
  async offsets(parts: { topic: string; partition: number }[]) {
    return parts.map(() => ({ start: 0, end: this.end }));
  }
  async close(): Promise<void> {}
  // A source is only read.
  createTopic = unused;
  createPartitions = unused;
  alterConfigs = unused;
  write = unused;
  newProducerId = unused;
  commit = unused;
  committed = unused;
  groups = unused;
}

function unused(): never {
  throw new Error('not a source call');
}

/** Gaps of 2, 8, 0 and 14 offsets, then regular ones of 4: 175 records over source offsets 0..325. */
const GAPPY = [0, 7, 20, 25, 44, ...Array.from({ length: 30 }, (_, i) => 60 + i * 9)];

describe('mirror: a source with offset gaps', () => {
  it('copies across gaps in one epoch, and resumes across them from the target log', async () => {
    const bases = GAPPY;
    const src = new GappySource(bases);
    const want = bases.flatMap((b) => records(b, 5)).map((r) => `${r.timestamp}|${r.key}|${r.value}`);
    const dir = tempDir();
    const copy = async () => {
      const m = new Mirror(src, LocalEndpoint.open(dir, 'target'), {
        name: 'g',
        stopWhenCaughtUp: true,
        maxBytesPerPartition: 1024,
      });
      const resumes: Record<string, unknown>[] = [];
      m.on('resume', (r) => resumes.push(r));
      await m.run();
      return resumes;
    };
    const first = await copy();
    expect(first).toMatchObject([{ committed: -1, position: 0, producerEpoch: 0 }]);
    const end = 60 + 29 * 9 + 5;
    const check = async () => {
      const log = Log.open(dir, { readOnly: true });
      try {
        const got = contents(log, 'gaps', 0);
        expect(got.records).toEqual(want);
        // One producer, one epoch, sequences counting records: 0, 5, 10, ...
        expect(got.batches.map((b) => b.producerEpoch)).toEqual(bases.map(() => 0));
        expect(new Set(got.batches.map((b) => b.producerId)).size).toBe(1);
        expect(got.batches.map((b) => b.baseSequence)).toEqual(bases.map((_, i) => i * 5));
        const [c] = await log[groupCalls]().fetchOffsets('ferrolog-mirror.g', [
          { topic: 'gaps', partitions: [0] },
        ]);
        // The group's offset is the target's position; the source's is in the metadata.
        expect(c?.offset).toBe(want.length);
        expect(JSON.parse(c?.metadata ?? '')).toMatchObject({ v: 2, e: 0, n: end, q: want.length });
      } finally {
        await log.close();
      }
    };
    await check();

    // A lost commit: back to the first batch past the first gap (source offset 7, sequence 5, target
    // offset 5). The restart counts what the target holds past it across the source's gaps.
    const log = Log.open(dir);
    const calls = log[groupCalls]();
    const [c] = await calls.fetchOffsets('ferrolog-mirror.g', [{ topic: 'gaps', partitions: [0] }]);
    await calls.commit({
      groupId: 'ferrolog-mirror.g',
      generationId: -1,
      memberId: '',
      offsets: [
        {
          topic: 'gaps',
          partition: 0,
          offset: 5,
          metadata: JSON.stringify({ ...JSON.parse(c?.metadata ?? ''), n: 7, q: 5 }),
        },
      ],
    });
    await log.close();
    const second = await copy();
    expect(second).toMatchObject([{ committed: 7, position: end, recovered: end - 7, producerEpoch: 0 }]);
    await check();
  });
});

describe('mirror: progress committed by the previous release', () => {
  it('resumes from a first-version commit (offset = source offset, origin and target position in the metadata)', async () => {
    const dir1 = tempDir();
    const dir2 = tempDir();
    const log = Log.open(dir1);
    log.createTopic('old', { partitions: 1 });
    for (let i = 0; i < 10; i++) log.append('old', 0, encodeBatch(records(i * 10, 10)));
    await log.close();
    const copy = async () => {
      const m = new Mirror(LocalEndpoint.open(dir1, 'source'), LocalEndpoint.open(dir2, 'target'), {
        name: 'old',
        stopWhenCaughtUp: true,
      });
      const resumes: Record<string, unknown>[] = [];
      m.on('resume', (r) => resumes.push(r));
      await m.run();
      return resumes;
    };
    await copy();
    // What the previous release committed had it stopped after writing everything but committing
    // only 40: offset 40 (source), origin 0 (sequence = source offset), scan from target offset 0.
    const b = Log.open(dir2);
    const calls = b[groupCalls]();
    const [c] = await calls.fetchOffsets('ferrolog-mirror.old', [{ topic: 'old', partitions: [0] }]);
    const { p, e } = JSON.parse(c?.metadata ?? '') as { p: number; e: number };
    await calls.commit({
      groupId: 'ferrolog-mirror.old',
      generationId: -1,
      memberId: '',
      offsets: [{ topic: 'old', partition: 0, offset: 40, metadata: JSON.stringify({ p, e, o: 0, t: 0 }) }],
    });
    await b.close();
    expect(await copy()).toMatchObject([{ committed: 40, position: 100, recovered: 60, producerEpoch: 0 }]);
    const a = Log.open(dir1, { readOnly: true });
    const t = Log.open(dir2, { readOnly: true });
    try {
      expect(contents(t, 'old', 0).records).toEqual(contents(a, 'old', 0).records);
    } finally {
      await a.close();
      await t.close();
    }
  });
});

describe('mirror: a start inside a batch', () => {
  it('--from-offset inside a compressed batch copies its records from there, then the rest as stored', async () => {
    const dir1 = tempDir();
    const dir2 = tempDir();
    const kafka = new Kafka({ clientId: 'tail', dataDir: dir1, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 3; i++) {
      await producer.send({
        topic: 'tail',
        compression: CompressionTypes.GZIP,
        messages: records(i * 10, 10).map((r) => ({ ...r, timestamp: String(r.timestamp) })),
      });
    }
    await producer.disconnect();
    const r = await runMirror([
      '--from',
      dir1,
      '--to',
      dir2,
      '--name',
      'tail',
      '--from-offset',
      '15',
      '--once',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const a = Log.open(dir1, { readOnly: true });
    const b = Log.open(dir2, { readOnly: true });
    try {
      const want = contents(a, 'tail', 0).records.slice(15);
      const got = contents(b, 'tail', 0);
      expect(got.records).toEqual(want);
      expect(got.records.length).toBe(15);
      // The cut batch holds 5 records, still gzip; the last went as stored.
      expect(got.batches.map((x) => x.lastOffset - x.baseOffset + 1)).toEqual([5, 10]);
      const chunk = b.read('tail', 0, 0, 1 << 20).batches;
      expect(wholeBatches(chunk).map((x) => chunk.readInt16BE(x.position + F.ATTRIBUTES) & 7)).toEqual([
        1, 1,
      ]);
      // Progress: the target's position (15 records there) as the offset, source offset 30 in the metadata.
      const [c] = await b[groupCalls]().fetchOffsets('ferrolog-mirror.tail', [
        { topic: 'tail', partitions: [0] },
      ]);
      expect(c?.offset).toBe(15);
      expect(JSON.parse(c?.metadata ?? '')).toMatchObject({ n: 30, q: 15 });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

/** Runs `ferrolog mirror --json`; `onEvent` may return 'kill' to SIGKILL it there. */
function runMirror(
  args: string[],
  onEvent: (e: Record<string, unknown>) => 'kill' | undefined = () => undefined,
  started: (child: ChildProcess) => void = () => undefined,
): Promise<{
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  events: Record<string, unknown>[];
}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'mirror', '--json', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started(child);
    let stderr = '';
    const events: Record<string, unknown>[] = [];
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const e = JSON.parse(line) as Record<string, unknown>;
      events.push(e);
      if (onEvent(e) === 'kill') child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr, events }));
  });
}

describe('mirror: one mirror per name', () => {
  it('a second process with the same name fences the first, which stops with a typed error; a SIGKILLed one leaves no lock', async () => {
    const dir1 = tempDir();
    const dir2 = tempDir();
    const writer = Log.open(dir1);
    writer.createTopic('one', { partitions: 2 });
    for (let i = 0; i < 20; i++) writer.append('one', i % 2, encodeBatch(records(i * 100, 100)));
    const owner = new Kafka({ dataDir: dir2, logLevel: logLevel.NOTHING });
    const server = await owner.listen({ port: 0, host: '127.0.0.1' });
    const to = `127.0.0.1:${server.address.port}`;
    const args = ['--from', dir1, '--to', to, '--name', 'same', '--commit-interval-ms', '100'];
    try {
      // The first mirror streams; once it has caught up, a second one of the same name starts, and
      // more data arrives for both to race for.
      let second: Promise<Awaited<ReturnType<typeof runMirror>>> | null = null;
      const first = await runMirror(args, (e) => {
        if (second === null && e.event === 'lag' && e.total === 0 && (e.copied as number) > 0) {
          for (let i = 20; i < 30; i++) writer.append('one', i % 2, encodeBatch(records(i * 100, 100)));
          second = runMirror([...args, '--once']);
        }
        return undefined;
      });
      expect(second).not.toBe(null);
      expect(first.code).toBe(1);
      expect(first.stderr).toMatch(
        /mirror stopped: mirror same lost its progress group ferrolog-mirror\.same: another mirror of that name took over/,
      );
      const done = await (second as unknown as Promise<Awaited<ReturnType<typeof runMirror>>>);
      expect(done.code, done.stderr).toBe(0);

      // A mirror SIGKILLed mid-copy: the next one joins at once in its place and finishes.
      for (let i = 30; i < 60; i++) writer.append('one', i % 2, encodeBatch(records(i * 100, 100)));
      const killed = await runMirror([...args, '--max-bytes', '2000'], (e) =>
        e.event === 'lag' && (e.copied as number) > 0 ? 'kill' : undefined,
      );
      expect(killed.signal).toBe('SIGKILL');
      const after = await runMirror([...args, '--once']);
      expect(after.code, after.stderr).toBe(0);
    } finally {
      await server.close();
    }
    const b = Log.open(dir2, { readOnly: true });
    try {
      for (let p = 0; p < 2; p++) {
        const want = contents(writer, 'one', p).records;
        expect(want.length).toBe(3000);
        expect(contents(b, 'one', p).records).toEqual(want);
      }
    } finally {
      await b.close();
      await writer.close();
    }
  }, 120_000);

  it('in one process: the newer Mirror fences the older, whose run() rejects with MirrorFencedError', async () => {
    const dir1 = tempDir();
    const dir2 = tempDir();
    const log = Log.open(dir1);
    log.createTopic('f', { partitions: 1 });
    log.append('f', 0, encodeBatch(records(0, 10)));
    await log.close();
    const target = LocalEndpoint.open(dir2, 'target');
    // Two mirrors over one target endpoint (a directory admits one process): the coordinator is shared.
    const keep = new Proxy(target, {
      get(t, p) {
        if (p === 'close') return async () => undefined;
        const v = Reflect.get(t, p);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    const older = new Mirror(LocalEndpoint.open(dir1, 'source'), keep, {
      name: 'x',
      commitIntervalMs: 10,
      maxWaitMs: 20,
    });
    const olderRun = older.run();
    const caught: Error[] = [];
    olderRun.catch((e: Error) => caught.push(e));
    await new Promise<void>((resolve) =>
      older.on('lag', (l: { total: number }) => l.total === 0 && resolve()),
    );
    const newer = new Mirror(LocalEndpoint.open(dir1, 'source'), keep, { name: 'x', stopWhenCaughtUp: true });
    await newer.run();
    await expect(olderRun).rejects.toBeInstanceOf(MirrorFencedError);
    expect(caught[0]?.name).toBe('MirrorFencedError');
    await target.close();
  });
});

describe.skipIf(!javaAvailable())(
  'mirror to Kafka: one mirror per name, and the group as Kafka sees it',
  () => {
    let k: SharedKafka;
    beforeAll(async () => {
      k = await useKafka({ nodes: 1 });
    }, 180_000);
    afterAll(async () => {
      await k?.release();
    });

    it('the newer mirror fences the older; kafka-consumer-groups shows target positions and lag 0 over a gappy source', async () => {
      const run = `${process.pid}-${Date.now()}`;
      const topic = `gappy-${run}`;
      const name = `fence-${run}`;
      const older = new Mirror(
        new GappySource(GAPPY, topic),
        await RemoteEndpoint.connect({ brokers: [k.bootstrap] }, 'older'),
        { name, commitIntervalMs: 50, maxWaitMs: 50 },
      );
      const olderRun = older.run();
      olderRun.catch(() => undefined);
      await new Promise<void>((resolve) =>
        older.on('lag', (l: { total: number; copied: number }) => l.total === 0 && l.copied > 0 && resolve()),
      );
      const newer = new Mirror(
        new GappySource(GAPPY, topic),
        await RemoteEndpoint.connect({ brokers: [k.bootstrap] }, 'newer'),
        { name, stopWhenCaughtUp: true },
      );
      const resumes: Record<string, unknown>[] = [];
      newer.on('resume', (r) => resumes.push(r));
      await newer.run();
      // The newer one resumed from the older one's progress (source offset 326, epoch 0).
      expect(resumes).toMatchObject([{ position: 326, producerEpoch: 0 }]);
      await expect(olderRun).rejects.toBeInstanceOf(MirrorFencedError);

      // Kafka's own tool: the group's offset is the target's log end (175 records), not the source's 326.
      const out = runKafkaClass('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', [
        '--bootstrap-server',
        k.bootstrap,
        '--describe',
        '--group',
        `ferrolog-mirror.${name}`,
      ]);
      expect(out.status, out.stderr).toBe(0);
      const row = out.stdout.split('\n').find((l) => l.includes(topic));
      expect(row?.trim().split(/\s+/).slice(1, 6)).toEqual([topic, '0', '175', '175', '0']);
    }, 120_000);
  },
);
