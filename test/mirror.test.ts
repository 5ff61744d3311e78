/**
 * The mirror (ts/mirror, `ferrolog mirror`): a local directory to an Apache
 * Kafka cluster and back into a second directory, with the mirror process
 * SIGKILLed along the way; the result must be the source record for record.
 *
 * The CLI runs from dist/ (`npm run build:ts`), as in cli.test.ts.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes, Kafka, Log, logLevel, Mirror } from '../ts';
import { decodeMessages, encodeBatch } from '../ts/codec';
import { groupCalls } from '../ts/log';
import { type BatchRef, restamp, wholeBatches } from '../ts/mirror/batches';
import { LocalEndpoint, RemoteEndpoint } from '../ts/mirror/endpoints';
import { tempDir } from './helpers';
import { javaAvailable } from './kafka/jars.mjs';
import { type SharedKafka, useKafka } from './kafka/shared.mjs';

const bin = join(__dirname, '..', 'dist', 'cli', 'main.js');

interface Event {
  event: string;
  [k: string]: unknown;
}

/** Runs `ferrolog mirror` with --json; `onEvent` may return 'kill' to SIGKILL it there, 'term' to SIGTERM it. */
function runMirror(
  args: string[],
  onEvent: (e: Event) => 'kill' | 'term' | undefined,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; events: Event[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [bin, 'mirror', '--json', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const events: Event[] = [];
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    let killed = false;
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on('line', (line) => {
      if (killed) return;
      const e = JSON.parse(line) as Event;
      events.push(e);
      const action = onEvent(e);
      if (action === 'kill') {
        killed = true;
        child.kill('SIGKILL');
      } else if (action === 'term') {
        child.kill('SIGTERM');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, events, stderr }));
  });
}

/** Position (next offset to copy) summed over partitions, from a lag event. */
function position(e: Event): number {
  return (e.partitions as { position: number }[]).reduce((n, p) => n + p.position, 0);
}

/** Whether a lag event shows records written but not committed (a kill now leaves them to the target's log). */
function uncommitted(e: Event): boolean {
  return (e.partitions as { position: number; committed: number }[]).some((p) => p.position > p.committed);
}

/**
 * Runs a mirror to completion (--once), SIGKILLing it whenever the copied
 * total first passes each of `killAt` (fractions of `total`), restarting it
 * each time. Returns every run's events.
 */
async function mirrorWithKills(args: string[], total: number, killAt: number[]): Promise<Event[][]> {
  const runs: Event[][] = [];
  const pending = [...killAt];
  for (;;) {
    const r = await runMirror(args, (e) => {
      const next = pending[0];
      if (e.event === 'lag' && next !== undefined && position(e) >= next * total && uncommitted(e)) {
        pending.shift();
        return 'kill';
      }
      return undefined;
    });
    runs.push(r.events);
    if (r.signal === 'SIGKILL') continue;
    if (r.code !== 0) throw new Error(`mirror exited ${r.code}: ${r.stderr}`);
    // Every kill point must have been reached (the test proves nothing otherwise).
    expect(pending).toEqual([]);
    return runs;
  }
}

/** Digest and count of every record of a partition: offset, timestamp, key, value, headers, in order. */
function digest(log: Log, topic: string, partition: number): { count: number; hash: string; end: number } {
  const h = createHash('sha256');
  const { highWatermark } = log.watermarks(topic, partition);
  let offset = 0;
  let count = 0;
  while (offset < highWatermark) {
    const r = log.read(topic, partition, offset, 4 << 20);
    const msgs = decodeMessages(r.batches, offset);
    for (const m of msgs) {
      h.update(`${m.offset}|${m.timestamp}|`);
      h.update(m.key ?? Buffer.from('<null>'));
      h.update('|');
      h.update(m.value ?? Buffer.from('<null>'));
      for (const [k, v] of Object.entries(m.headers ?? {})) h.update(`|${k}=${String(v)}`);
      h.update('\n');
      count++;
    }
    if (r.nextOffset <= offset) throw new Error(`no progress reading ${topic}-${partition} at ${offset}`);
    offset = r.nextOffset;
  }
  return { count, hash: h.digest('hex'), end: highWatermark };
}

const COMPRESSIONS = [
  CompressionTypes.None,
  CompressionTypes.GZIP,
  CompressionTypes.Snappy,
  CompressionTypes.LZ4,
  CompressionTypes.ZSTD,
];

async function fill(dir: string, topic: string, partitions: number, total: number): Promise<void> {
  const kafka = new Kafka({ clientId: 'mirror-fill', dataDir: dir, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic,
        numPartitions: partitions,
        configEntries: [
          { name: 'retention.ms', value: '604800001' },
          { name: 'max.message.bytes', value: '2000000' },
        ],
      },
    ],
  });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const value = Buffer.alloc(100, 'v');
  const perSend = 4000;
  for (let sent = 0, send = 0; sent < total; send++) {
    const n = Math.min(perSend, total - sent);
    const messages = [];
    for (let i = sent; i < sent + n; i++) {
      value.writeUInt32BE(i, 0);
      messages.push({
        key: `k${i}`,
        value: Buffer.from(value),
        partition: i % partitions,
        timestamp: String(1_700_000_000_000 + i),
        headers: i % 7 === 0 ? { h: `x${i}`, trace: 'abc' } : undefined,
      });
    }
    await producer.send({ topic, acks: 1, compression: COMPRESSIONS[send % COMPRESSIONS.length], messages });
    sent += n;
  }
  await producer.disconnect();
}

describe.skipIf(!javaAvailable())('mirror: directory → Kafka → directory, killed along the way', () => {
  let k: SharedKafka;
  beforeAll(async () => {
    k = await useKafka({ nodes: 1 });
  }, 180_000);
  afterAll(async () => {
    await k?.release();
  });

  it('copies 1 M records exactly once each way through three SIGKILLs per hop; configs, partitions and lag 0', async () => {
    const TOTAL = 1_000_000;
    const PARTITIONS = 4;
    const run = `${process.pid}-${Date.now()}`;
    const topic = `mirror-${run}`;
    const other = `unmirrored-${run}`;
    const dir1 = tempDir();
    const dir2 = tempDir();
    await fill(dir1, topic, PARTITIONS, TOTAL);
    {
      // A topic outside --topics stays behind.
      const log = Log.open(dir1);
      log.createTopic(other, { partitions: 1 });
      await log.close();
    }
    const topics = `^mirror-${run}$`;
    // Kills come right after an event that shows written but uncommitted records, with a commit
    // interval far longer than a round: what was written past the commit only the target's log
    // can tell (the next commit is seconds away, the kill milliseconds).
    const common = ['--topics', topics, '--max-bytes', '262144', '--commit-interval-ms', '2000', '--once'];

    // Hop 1: directory → Kafka.
    const hop1 = await mirrorWithKills(
      ['--from', dir1, '--to', k.bootstrap, '--name', `h1-${run}`, ...common],
      TOTAL,
      [0.2, 0.45, 0.7],
    );
    expect(hop1.length).toBe(4);
    // Hop 2: Kafka → a second directory.
    const hop2 = await mirrorWithKills(
      ['--from', k.bootstrap, '--to', dir2, '--name', `h2-${run}`, ...common],
      TOTAL,
      [0.25, 0.5, 0.75],
    );
    expect(hop2.length).toBe(4);

    for (const runs of [hop1, hop2]) {
      // Each restart resumed past the start, never before its committed offset.
      for (const events of runs.slice(1)) {
        const resumes = events.filter((e) => e.event === 'resume');
        expect(resumes.length).toBe(PARTITIONS);
        expect(resumes.reduce((n, e) => n + (e.position as number), 0)).toBeGreaterThan(0);
        for (const e of resumes) expect(e.position as number).toBeGreaterThanOrEqual(e.committed as number);
      }
      // Some run found records on the target past its committed offset and skipped them: the
      // resume point came from the target's log, which is what the kills test.
      const recovered = runs
        .slice(1)
        .flatMap((ev) => ev.filter((e) => e.event === 'resume' && (e.recovered as number) > 0));
      expect(recovered.length).toBeGreaterThan(0);
      // The last run caught up: lag 0 everywhere.
      const last = runs[runs.length - 1] as Event[];
      expect(last.some((e) => e.event === 'caughtUp')).toBe(true);
      const lastLag = last.filter((e) => e.event === 'lag').pop() as Event;
      expect(lastLag.total).toBe(0);
    }

    // Kafka holds every record exactly once (its log ends where the source's does), with the configs.
    const remote = new Kafka({
      clientId: 'mirror-check',
      brokers: [k.bootstrap],
      logLevel: logLevel.NOTHING,
    });
    const admin = remote.admin();
    await admin.connect();
    try {
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(md.topics[0]?.partitions.length).toBe(PARTITIONS);
      const cfg = await admin.describeConfigs({
        resources: [{ type: 2, name: topic, configNames: ['retention.ms', 'max.message.bytes'] }],
        includeSynonyms: false,
      });
      const entries = Object.fromEntries(
        (cfg.resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]),
      );
      expect(entries).toEqual({ 'retention.ms': '604800001', 'max.message.bytes': '2000000' });
      const names = (await admin.listTopics()).filter((t) => t.endsWith(run));
      expect(names).toEqual([topic]);
      const offsets = await admin.fetchTopicOffsets(topic);
      const src = Log.open(dir1, { readOnly: true });
      try {
        for (const o of offsets) {
          expect(Number(o.high)).toBe(src.watermarks(topic, o.partition).highWatermark);
        }
      } finally {
        await src.close();
      }
      // Progress is the committed offsets of the mirror's group, on the target.
      const committed = await admin.fetchOffsets({ groupId: `ferrolog-mirror.h1-${run}`, topics: [topic] });
      const sum = committed[0]?.partitions.reduce((n, p) => n + Number(p.offset), 0);
      expect(sum).toBe(TOTAL);

      // A produce request a killed mirror had in flight, arriving after its successor resumed: it
      // carries the producer id, epoch and sequence of a batch already stored (the identity is kept
      // across restarts), so Kafka drops it. The committed metadata holds that identity.
      const meta = JSON.parse(committed[0]?.partitions.find((p) => p.partition === 0)?.metadata ?? '') as {
        p: number;
        e: number;
        n: number;
        q: number;
      };
      // Sequences count records: the last batch's is the committed one less its span.
      expect(meta.e).toBe(0);
      const src0 = Log.open(dir1, { readOnly: true });
      let late: Buffer;
      let end0: number;
      try {
        end0 = src0.watermarks(topic, 0).highWatermark;
        const r = src0.read(topic, 0, end0 - 1, 1 << 20);
        const last = wholeBatches(r.batches)[0] as BatchRef;
        expect(last.lastOffset).toBe(end0 - 1);
        expect(meta.n).toBe(end0);
        late = restamp(r.batches, last, meta.p, meta.e, meta.q - (end0 - last.baseOffset));
      } finally {
        await src0.close();
      }
      const ep = await RemoteEndpoint.connect({ brokers: [k.bootstrap] }, 'mirror-late');
      try {
        const [res] = await ep.write([{ topic, partition: 0, records: late }]);
        expect(res?.errorCode).toBe(0);
        expect((await ep.offsets([{ topic, partition: 0 }]))[0]?.end).toBe(end0);
      } finally {
        await ep.close();
      }
    } finally {
      await admin.disconnect();
    }

    // The second directory is the first, record for record.
    const a = Log.open(dir1, { readOnly: true });
    const b = Log.open(dir2);
    try {
      const t2 = b.topics().find((t) => t.name === topic);
      expect(t2?.partitions).toBe(PARTITIONS);
      expect(t2?.config['retention.ms']).toBe('604800001');
      expect(t2?.config['max.message.bytes']).toBe('2000000');
      expect(b.hasTopic(other)).toBe(false);
      let count = 0;
      for (let p = 0; p < PARTITIONS; p++) {
        const da = digest(a, topic, p);
        const db = digest(b, topic, p);
        expect(db).toEqual(da);
        count += da.count;
      }
      expect(count).toBe(TOTAL);
    } finally {
      await a.close();
      await b.close();
    }
  }, 600_000);
});

describe.skipIf(!javaAvailable())('mirror: a Kafka source with transactions', () => {
  let k: SharedKafka;
  beforeAll(async () => {
    k = await useKafka({ nodes: 1 });
  }, 180_000);
  afterAll(async () => {
    await k?.release();
  });

  it('leaves out markers and aborted transactions, copying the committed records once', async () => {
    const topic = `mirror-txn-${process.pid}-${Date.now()}`;
    const py = spawnSync(
      '/usr/bin/python3',
      [join(__dirname, 'kafka', 'mirror_txn.py'), k.bootstrap, topic],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(py.status, py.stderr).toBe(0);
    const dir = tempDir();
    const runs = await mirrorWithKills(
      ['--from', k.bootstrap, '--to', dir, '--topics', `^${topic}$`, '--name', topic, '--once'],
      1,
      [],
    );
    expect((runs[0] as Event[]).some((e) => e.event === 'caughtUp')).toBe(true);
    const log = Log.open(dir, { readOnly: true });
    try {
      const values = decodeMessages(log.read(topic, 0, 0, 1 << 20).batches).map((m) => m.value?.toString());
      const want = [
        ...Array.from({ length: 10 }, (_, i) => i),
        ...Array.from({ length: 20 }, (_, i) => 20 + i),
      ].map((i) => `committed-${i}`);
      expect(values).toEqual(want);
    } finally {
      await log.close();
    }
  }, 180_000);
});

describe('mirror: resuming from the target log (directory → directory)', () => {
  it('skips what the target holds past a lost commit, and writes nothing twice', async () => {
    const dir1 = tempDir();
    const dir2 = tempDir();
    const topic = 'resume';
    // One batch per partition per 4000-record send: 10 per partition, more than the five a
    // producer's duplicates are matched against.
    const total = 40_000;
    await fill(dir1, topic, 2, total);
    const copy = async (): Promise<{ resumes: Record<string, unknown>[] }> => {
      const m = new Mirror(LocalEndpoint.open(dir1, 'source'), LocalEndpoint.open(dir2, 'target'), {
        name: 'r',
        stopWhenCaughtUp: true,
        maxBytesPerPartition: 16384,
      });
      const resumes: Record<string, unknown>[] = [];
      m.on('resume', (r) => resumes.push(r));
      await m.run();
      return { resumes };
    };
    await copy();
    // Lose the last commit: put the group back where an earlier run would have left it, with the
    // same producer identity, as a kill between the writes and their commit does.
    const log2 = Log.open(dir2);
    const calls = log2[groupCalls]();
    const before = await calls.fetchOffsets('ferrolog-mirror.r', [{ topic, partitions: [0, 1] }]);
    expect(before.map((c) => c.offset)).toEqual([total / 2, total / 2]);
    expect(before.map((c) => JSON.parse(c.metadata).n)).toEqual([total / 2, total / 2]);
    await calls.commit({
      groupId: 'ferrolog-mirror.r',
      generationId: -1,
      memberId: '',
      // The group's offset is the target position (0: the scan reads it all); the metadata the source's.
      offsets: before.map((c) => ({
        topic,
        partition: c.partition,
        offset: 0,
        metadata: JSON.stringify({ ...JSON.parse(c.metadata), n: 1000, q: 1000 }),
      })),
    });
    await log2.close();
    const { resumes } = await copy();
    expect(resumes.map((r) => [r.committed, r.position, r.recovered])).toEqual([
      [1000, total / 2, total / 2 - 1000],
      [1000, total / 2, total / 2 - 1000],
    ]);
    const a = Log.open(dir1, { readOnly: true });
    const b = Log.open(dir2, { readOnly: true });
    try {
      for (let p = 0; p < 2; p++) expect(digest(b, topic, p)).toEqual(digest(a, topic, p));
    } finally {
      await a.close();
      await b.close();
    }

    // Progress that is wrong: a target position past what the commit's sequence says (a scan from
    // there sees nothing). The target refuses the resend as out of order; the mirror then reads
    // the target's log from its start, finds its own records there and writes nothing twice.
    const wrong = async (meta: Record<string, number>) => {
      const log3 = Log.open(dir2);
      const calls3 = log3[groupCalls]();
      const now = await calls3.fetchOffsets('ferrolog-mirror.r', [{ topic, partitions: [0] }]);
      await calls3.commit({
        groupId: 'ferrolog-mirror.r',
        generationId: -1,
        memberId: '',
        offsets: now.map((c) => ({
          topic,
          partition: c.partition,
          offset: total / 2,
          metadata: JSON.stringify({ ...JSON.parse(c.metadata), ...meta }),
        })),
      });
      await log3.close();
    };
    await wrong({ n: 1000, q: 1000 });
    const { resumes: third } = await copy();
    expect(third.map((r) => [r.committed, r.position])).toEqual([
      [1000, 1000],
      [total / 2, total / 2],
    ]);
    // Progress no log can settle (an epoch this producer never wrote with): the target keeps
    // refusing, and the mirror stops rather than write twice.
    await wrong({ n: 1000, q: 1000, e: 7 });
    await expect(copy()).rejects.toThrow(/writing resume-0 to the target failed with error 45.*10 attempts/);
    const c = Log.open(dir2, { readOnly: true });
    const a2 = Log.open(dir1, { readOnly: true });
    try {
      expect(c.watermarks(topic, 0).highWatermark).toBe(total / 2);
      for (let p = 0; p < 2; p++) expect(digest(c, topic, p)).toEqual(digest(a2, topic, p));
    } finally {
      await c.close();
      await a2.close();
    }
  }, 120_000);
});

describe('kafka.mirror', () => {
  it('copies from its own directory, starting inside a batch (only its records from the start) and resuming without duplicates', async () => {
    const dir1 = tempDir();
    const dir2 = tempDir();
    const log = Log.open(dir1);
    log.createTopic('t', { partitions: 1, config: { 'retention.ms': 123456789 } });
    const batch = (from: number) =>
      encodeBatch(
        Array.from({ length: 10 }, (_, i) => ({
          key: Buffer.from(`k${from + i}`),
          value: Buffer.from(`v${from + i}`),
          timestamp: 1_700_000_000_000 + from + i,
          headers: {},
        })),
      );
    for (const from of [0, 10, 20]) log.append('t', 0, batch(from));
    // The source now starts at 15, inside the second batch: the mirror re-encodes that batch's
    // records from 15 and forwards the rest as stored, all in epoch 0.
    log.deleteRecords('t', 0, 15);
    await log.close();

    const kafka = new Kafka({ dataDir: dir1, logLevel: logLevel.NOTHING });
    const first = await kafka.mirror({ to: { dataDir: dir2 }, name: 'm', stopWhenCaughtUp: true });
    const topicsSeen: unknown[] = [];
    first.on('topic', (t) => topicsSeen.push(t));
    await first.run();
    expect(topicsSeen).toMatchObject([{ topic: 't', action: 'created', partitions: 1 }]);
    expect(first.lag()).toEqual([
      { topic: 't', partition: 0, position: 30, highWatermark: 30, lag: 0, committed: 30 },
    ]);

    // More data, then a second run: it resumes at 30 with the same producer identity.
    const again = Log.open(dir1);
    again.append('t', 0, batch(30));
    // A config changed at the source since is set on the target too.
    again.alterTopicConfig('t', { 'retention.ms': 987654321 });
    await again.close();
    const second = await kafka.mirror({ to: { dataDir: dir2 }, name: 'm', stopWhenCaughtUp: true });
    const resumes: Record<string, unknown>[] = [];
    second.on('resume', (r) => resumes.push(r));
    const configured: unknown[] = [];
    second.on('topic', (t) => configured.push(t));
    await second.run();
    expect(resumes).toMatchObject([{ committed: 30, position: 30, recovered: 0, producerEpoch: 0 }]);
    expect(configured).toMatchObject([
      { topic: 't', action: 'configured', configs: { 'retention.ms': '987654321' } },
    ]);
    expect(second.lag()).toMatchObject([{ position: 40, lag: 0, committed: 40 }]);

    const b = Log.open(dir2, { readOnly: true });
    try {
      expect(b.topics().find((t) => t.name === 't')?.config['retention.ms']).toBe('987654321');
      const msgs = decodeMessages(b.read('t', 0, 0, 1 << 20).batches);
      expect(msgs.map((m) => m.key?.toString())).toEqual(Array.from({ length: 25 }, (_, i) => `k${15 + i}`));
      expect(msgs.map((m) => m.value?.toString())).toEqual(
        Array.from({ length: 25 }, (_, i) => `v${15 + i}`),
      );
      expect(msgs.map((m) => Number(m.timestamp))).toEqual(
        Array.from({ length: 25 }, (_, i) => 1_700_000_000_015 + i),
      );
      expect(b.watermarks('t', 0).highWatermark).toBe(25);
    } finally {
      await b.close();
    }
  });
});

describe("mirror: to ferrolog's own broker", () => {
  it('copies a directory to another served over the Kafka protocol, and resumes', async () => {
    const dir1 = tempDir();
    const dir2 = tempDir();
    await fill(dir1, 'served', 3, 30_000);
    const owner = new Kafka({ dataDir: dir2, logLevel: logLevel.NOTHING });
    const server = await owner.listen({ port: 0, host: '127.0.0.1' });
    try {
      const brokers = [`127.0.0.1:${server.address.port}`];
      for (let run = 0; run < 2; run++) {
        const m = await new Kafka({ dataDir: dir1, logLevel: logLevel.NOTHING }).mirror({
          to: { brokers },
          name: 'served',
          stopWhenCaughtUp: true,
          maxBytesPerPartition: 65536,
        });
        const resumes: Record<string, unknown>[] = [];
        m.on('resume', (r) => resumes.push(r));
        await m.run();
        expect(m.lag().reduce((n, p) => n + p.lag, 0)).toBe(0);
        if (run === 1) expect(resumes.map((r) => r.position)).toEqual([10_000, 10_000, 10_000]);
      }
      const a = Log.open(dir1, { readOnly: true });
      const b = Log.open(dir2);
      try {
        for (let p = 0; p < 3; p++) expect(digest(b, 'served', p)).toEqual(digest(a, 'served', p));
        const committed = await b[groupCalls]().fetchOffsets('ferrolog-mirror.served', [
          { topic: 'served', partitions: [0, 1, 2] },
        ]);
        expect(committed.map((c) => c.offset)).toEqual([10_000, 10_000, 10_000]);
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await server.close();
    }
  }, 120_000);
});

describe('ferrolog mirror: usage errors', () => {
  it('says what is wrong in one line and creates nothing', () => {
    const missing = spawnSync(process.execPath, [bin, 'mirror', '--from', 'x'], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^ferrolog: mirror needs --from and --to\n/);
    const dir = tempDir();
    const target = join(dir, 'target');
    const absent = spawnSync(
      process.execPath,
      [bin, 'mirror', '--from', join(dir, 'absent'), '--to', target],
      {
        encoding: 'utf8',
      },
    );
    expect(absent.status).toBe(1);
    expect(absent.stderr).toBe(`ferrolog: the source directory ${join(dir, 'absent')} does not exist\n`);
    const regex = spawnSync(
      process.execPath,
      [bin, 'mirror', '--from', dir, '--to', target, '--topics', '('],
      {
        encoding: 'utf8',
      },
    );
    expect(regex.status).toBe(1);
    expect(regex.stderr).toMatch(/^ferrolog: Invalid regular expression/);
    expect(existsSync(target)).toBe(false);
  });
});

describe('ferrolog mirror: streaming', () => {
  it('ships what a running writer appends (reading next to it), and commits when stopped with SIGTERM', async () => {
    const dir1 = tempDir();
    const dir2 = tempDir();
    await fill(dir1, 'live', 2, 4000);
    // This process keeps writing dir1: the mirror reads it read-only next to this writer.
    const writer = Log.open(dir1);
    const more = (from: number) =>
      encodeBatch(
        Array.from({ length: 500 }, (_, i) => ({
          key: Buffer.from(`late${from + i}`),
          value: Buffer.from(`v${from + i}`),
          timestamp: 1_800_000_000_000 + from + i,
          headers: {},
        })),
      );
    let phase = 0;
    try {
      const r = await runMirror(
        ['--from', dir1, '--to', dir2, '--name', 'live', '--commit-interval-ms', '600000'],
        (e) => {
          if (e.event !== 'lag' || e.total !== 0) return undefined;
          const at = position(e);
          if (phase === 0 && at === 4000) {
            phase = 1;
            writer.append('live', 0, more(0));
            writer.append('live', 1, more(500));
          } else if (phase === 1 && at === 5000) {
            // Caught up with the new data too. With that commit interval nothing was committed since
            // the start: the commit on SIGTERM is what the check below sees.
            phase = 2;
            return 'term';
          }
          return undefined;
        },
      );
      expect(phase).toBe(2);
      expect(r.signal).toBe(null);
      expect(r.code).toBe(0);
    } finally {
      await writer.close();
    }
    const a = Log.open(dir1, { readOnly: true });
    const b = Log.open(dir2, { readOnly: true });
    try {
      const committed = await b[groupCalls]().fetchOffsets('ferrolog-mirror.live', [
        { topic: 'live', partitions: [0, 1] },
      ]);
      expect(committed.map((c) => c.offset)).toEqual([2500, 2500]);
      for (let p = 0; p < 2; p++) expect(digest(b, 'live', p)).toEqual(digest(a, 'live', p));
    } finally {
      await a.close();
      await b.close();
    }
  }, 60_000);
});
