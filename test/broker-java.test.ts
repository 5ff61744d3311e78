/**
 * The Apache Kafka Java client (kafka-clients 4.1.x from Maven Central)
 * against the broker: a small program compiled by the test with javac on
 * the fetched jars (cached under .cache/kafka-jars), run against
 * `kafka.listen` on a free loopback port. Records read back must equal what
 * was written. A group of two Java consumers (subscribe, poll,
 * commitSync; test/java/FerrologJavaGroupMember.java) shares a topic's
 * partitions and commits to its end. Kafka's own ProducerPerformance and
 * ConsumerPerformance tools run against it too.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type BrokerServer, Kafka } from '../ts';
import { jsonLines, tempDir, until } from './helpers';
import { javaClasspath, kafkaJars } from './java-build';

let server: BrokerServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('the Java client', () => {
  it('creates a topic, produces with idempotence and lz4, and reads everything back', async () => {
    const classpath = javaClasspath();
    const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    server = await kafka.listen({ port: 0 });
    const broker = `${server.address.host}:${server.address.port}`;
    const count = 300;
    const run = spawnSync(
      'java',
      [
        '-cp',
        classpath,
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        'FerrologJavaClient',
        broker,
        String(count),
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const got = run.stdout.split('\n').filter((l) => l.length > 0);
    const want = [0, 1].flatMap((p) =>
      Array.from({ length: count }, (_, i) => i)
        .filter((i) => i % 2 === p)
        .map((i) => `${p}|k${i}|java ${i}`),
    );
    // Order is per partition; the consumer interleaves partitions.
    const byPartition = (lines: string[], p: number) => lines.filter((l) => l.startsWith(`${p}|`));
    expect(byPartition(got, 0)).toEqual(byPartition(want, 0));
    expect(byPartition(got, 1)).toEqual(byPartition(want, 1));
  }, 240_000);

  it("runs Kafka's own ProducerPerformance tool against the broker", async () => {
    const classpath = kafkaJars();
    const dir = tempDir();
    const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
    server = await kafka.listen({ port: 0 });
    const broker = `${server.address.host}:${server.address.port}`;
    const records = 20_000;
    const run = spawnSync(
      'java',
      [
        '-cp',
        classpath,
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        'org.apache.kafka.tools.ProducerPerformance',
        '--topic',
        'perf',
        '--num-records',
        String(records),
        '--record-size',
        '100',
        '--throughput',
        '-1',
        '--producer-props',
        `bootstrap.servers=${broker}`,
        'acks=all',
        'compression.type=lz4',
      ],
      { encoding: 'utf8', timeout: 180_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`${records} records sent`));
    const log = kafka.openLog();
    try {
      expect(log.watermarks('perf', 0).highWatermark).toBe(records);
    } finally {
      await log.close();
    }
  }, 240_000);

  it("runs Kafka's own ConsumerPerformance tool against the broker, as a group that commits", async () => {
    const classpath = kafkaJars();
    const dir = tempDir();
    const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
    server = await kafka.listen({ port: 0 });
    const broker = `${server.address.host}:${server.address.port}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'perf-in', numPartitions: 3 }] });
      const producer = kafka.producer();
      await producer.connect();
      const records = 30_000;
      for (let i = 0; i < records; i += 1000) {
        await producer.send({
          topic: 'perf-in',
          messages: Array.from({ length: 1000 }, (_, j) => ({
            partition: (i + j) % 3,
            value: Buffer.alloc(100, j),
          })),
        });
      }
      await producer.disconnect();
      const run = spawnSync(
        'java',
        [
          '-cp',
          classpath,
          '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
          'org.apache.kafka.tools.ConsumerPerformance',
          '--bootstrap-server',
          broker,
          '--topic',
          'perf-in',
          '--group',
          'perf-group',
          '--messages',
          String(records),
          '--timeout',
          '30000',
        ],
        { encoding: 'utf8', timeout: 180_000 },
      );
      expect(run.status, run.stderr).toBe(0);
      // The header, then one line of figures: field 5 is data.consumed.in.nMsg.
      const lines = run.stdout.trim().split('\n');
      const header = lines.findIndex((l) => l.includes('data.consumed.in.nMsg'));
      expect(header, run.stdout).toBeGreaterThanOrEqual(0);
      const fields = lines[header + 1].split(',').map((f) => f.trim());
      const col = lines[header]
        .split(',')
        .map((f) => f.trim())
        .indexOf('data.consumed.in.nMsg');
      expect(Number(fields[col])).toBe(records);
      // It consumed as a member of its group, whose auto-commit on close
      // reached the end of every partition.
      const [t] = await admin.fetchOffsets({ groupId: 'perf-group', topics: ['perf-in'] });
      expect(t.partitions.map((p) => Number(p.offset)).reduce((a, b) => a + b, 0)).toBe(records);
    } finally {
      await admin.disconnect();
    }
  }, 240_000);

  it('a group of two Java consumers (subscribe, poll, commitSync) shares the partitions and commits to the end', async () => {
    const classpath = javaClasspath();
    const dir = tempDir();
    const kafka = new Kafka({ dataDir: join(dir, 'data'), logLevel: 0 });
    server = await kafka.listen({ port: 0 });
    const broker = `${server.address.host}:${server.address.port}`;
    const admin = kafka.admin();
    await admin.connect();
    const children: ChildProcess[] = [];
    try {
      const partitions = 4;
      const count = 400;
      await admin.createTopics({ topics: [{ topic: 'jgroup', numPartitions: partitions }] });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: 'jgroup',
        messages: Array.from({ length: count }, (_, i) => ({ partition: i % partitions, value: `v${i}` })),
      });
      await producer.disconnect();
      const out = (n: string) => join(dir, `${n}.jsonl`);
      for (const name of ['j1', 'j2']) {
        const child = spawn(
          'java',
          [
            '-cp',
            classpath,
            '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
            'FerrologJavaGroupMember',
            broker,
            'jgroup',
            'jgroup-g',
            out(name),
            name,
            '6000',
          ],
          { stdio: 'ignore' },
        );
        children.push(child);
      }
      type Rec = { k: string; p?: number; o?: number; parts?: number[] };
      const recs = (n: string): Rec[] => jsonLines<Rec>(out(n));
      const latest = (n: string) =>
        recs(n)
          .filter((r) => r.k === 'assign')
          .at(-1)?.parts ?? [];
      // Both members hold partitions at once, every partition once.
      await until(
        () => {
          const all = [...latest('j1'), ...latest('j2')].sort();
          return latest('j1').length > 0 && latest('j2').length > 0 && all.join() === '0,1,2,3';
        },
        'both Java members to share the partitions',
        120_000,
      );
      // commitSync reaches the end of every partition.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const [t] = await admin.fetchOffsets({ groupId: 'jgroup-g', topics: ['jgroup'] });
        if (t.partitions.every((p) => Number(p.offset) === count / partitions)) break;
        if (Date.now() > deadline)
          throw new Error(`not committed to the end: ${JSON.stringify(t.partitions)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      for (const n of ['j1', 'j2']) writeFileSync(`${out(n)}.stop`, '');
      await Promise.all(
        children.map((c) => new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(null)))),
      );
      // Every message was consumed, by the member that held its partition.
      const seen = new Set<string>();
      for (const n of ['j1', 'j2']) {
        let owned = new Set<number>();
        for (const r of recs(n)) {
          if (r.k === 'assign') owned = new Set(r.parts);
          if (r.k === 'revoke') owned = new Set();
          if (r.k === 'msg') {
            expect(owned.has(r.p ?? -1), `${n} consumed ${r.p} without holding it`).toBe(true);
            seen.add(`${r.p}:${r.o}`);
          }
        }
      }
      expect(seen.size).toBe(count);
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      await admin.disconnect();
    }
  }, 240_000);
});
