/**
 * The Apache Kafka Java client (kafka-clients 4.1.x from Maven Central)
 * against the broker: a small program compiled by the test with javac on
 * the fetched jars (cached under .cache/kafka-jars), run against
 * `kafka.listen` on a free loopback port. Records read back must equal what
 * was written. Kafka's own ProducerPerformance tool runs against it too
 * (ConsumerPerformance needs consumer groups, which are another issue's).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type BrokerServer, Kafka } from '../ts';
import { tempDir } from './helpers';

const root = join(__dirname, '..');
const jars = join(root, '.cache', 'kafka-jars');

/** The Kafka jars, fetched with Maven the first time (then cached). */
function kafkaJars(): string {
  const have = () => existsSync(jars) && readdirSync(jars).some((f) => f.startsWith('kafka-clients-4.1'));
  if (!have()) {
    const pom = join(root, 'test', 'kafka', 'pom.xml');
    if (!existsSync(pom)) throw new Error(`no Kafka jars in ${jars} and no ${pom} to fetch them with`);
    const r = spawnSync(
      'mvn',
      ['-q', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${jars}`],
      {
        encoding: 'utf8',
        timeout: 600_000,
      },
    );
    if (r.status !== 0) throw new Error(`mvn failed: ${r.stdout}${r.stderr}`);
  }
  return join(jars, '*');
}

let server: BrokerServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('the Java client', () => {
  it('creates a topic, produces with idempotence and lz4, and reads everything back', async () => {
    const classpath = kafkaJars();
    const classes = join(tempDir(), 'classes');
    mkdirSync(classes);
    const javac = spawnSync(
      'javac',
      ['-cp', classpath, '-d', classes, join(__dirname, 'java', 'FerrologJavaClient.java')],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(javac.status, javac.stderr).toBe(0);

    const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    server = await kafka.listen({ port: 0 });
    const broker = `${server.address.host}:${server.address.port}`;
    const count = 300;
    const run = spawnSync(
      'java',
      [
        '-cp',
        `${classes}:${classpath}`,
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
});
