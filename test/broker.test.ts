/**
 * The Kafka broker against real clients: kcat (librdkafka), kafkajs 2.2.4
 * and librdkafka's Python binding, with the broker both in process
 * (`kafka.listen`) and as `ferrolog serve` in a child process. Records read
 * back must equal what was written.
 *
 * Consumer groups through the broker are in broker-groups.test.ts; consumers here use kcat's
 * simple consumer (-C without -G) and the log itself.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompressionTypes, ConfigResourceTypes, Kafka as KafkaJS, logLevel as kjsLogLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { type BrokerServer, decodeMessages, Kafka, Log } from '../ts';
import { tempDir, until } from './helpers';

const bin = join(__dirname, '..', 'dist', 'cli', 'main.js');
const KCAT = '/usr/bin/kcat';
const PYTHON = '/usr/bin/python3';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function kcat(broker: string, args: string[], input?: string): string {
  const r = spawnSync(KCAT, ['-b', broker, ...args], { encoding: 'utf8', input, timeout: 60_000 });
  expect(r.status, `kcat ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** key, value and headers of every record of `topic`, read with kcat's simple consumer. */
function consumeAll(broker: string, topic: string, partition = 0): string[] {
  const out = kcat(broker, [
    '-C',
    '-t',
    topic,
    '-p',
    String(partition),
    '-o',
    'beginning',
    '-e',
    '-q',
    '-f',
    '%k|%s|%h\n',
  ]);
  return out.split('\n').filter((l) => l.length > 0);
}

async function inProcess(): Promise<{ kafka: Kafka; server: BrokerServer; broker: string; dir: string }> {
  const dir = tempDir();
  const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
  const server = await kafka.listen({ port: 0 });
  cleanups.push(() => server.close());
  return { kafka, server, broker: `${server.address.host}:${server.address.port}`, dir };
}

/** Every record of topic-partition through the in-process log, as key|value. */
async function readLog(dir: string, topic: string, partition = 0): Promise<string[]> {
  const log = Log.open(dir);
  try {
    const out: string[] = [];
    let offset = log.watermarks(topic, partition).logStartOffset;
    for (;;) {
      const r = log.read(topic, partition, offset, 1 << 20);
      if (r.batches.length === 0) break;
      for (const m of decodeMessages(r.batches, offset)) {
        out.push(`${m.key?.toString() ?? ''}|${m.value?.toString() ?? ''}`);
      }
      offset = r.nextOffset;
    }
    return out;
  } finally {
    await log.close();
  }
}

describe('broker in process (kafka.listen)', () => {
  it('serves kcat: metadata, keyed produce with headers, every compression, consume from the beginning', async () => {
    const { kafka, broker, dir } = await inProcess();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] });
    await admin.disconnect();
    const md = kcat(broker, ['-L', '-t', 'orders']);
    expect(md).toMatch(/topic "orders" with 3 partitions/);
    expect(md).toMatch(/partition 2, leader 0/);

    const lines = Array.from({ length: 50 }, (_, i) => `k${i}:value ${i}`);
    kcat(
      broker,
      ['-P', '-t', 'orders', '-p', '0', '-K', ':', '-H', 'source=kcat', '-H', 'n=1'],
      `${lines.join('\n')}\n`,
    );
    const expected = lines.map((l) => `${l.replace(':', '|')}|source=kcat,n=1`);
    expect(consumeAll(broker, 'orders')).toEqual(expected);

    for (const codec of ['snappy', 'lz4', 'zstd', 'gzip']) {
      const topic = `z-${codec}`;
      const data = Array.from({ length: 200 }, (_, i) => `${codec}${i}:${'x'.repeat(i % 50)}${i}`);
      kcat(broker, ['-P', '-t', topic, '-K', ':', '-z', codec], `${data.join('\n')}\n`);
      const want = data.map((l) => `${l.replace(':', '|')}|`);
      expect(consumeAll(broker, topic), codec).toEqual(want);
      // The same records through the in-process log: one directory, two ways in.
      expect(await readLog(dir, topic)).toEqual(data.map((l) => l.replace(':', '|')));
    }
  });

  it('lets in-process producers and remote clients share the directory', async () => {
    const { kafka, broker } = await inProcess();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'shared', messages: [{ key: 'local', value: 'from the app' }] });
    kcat(broker, ['-P', '-t', 'shared', '-K', ':'], 'remote:from kcat\n');
    await producer.send({ topic: 'shared', messages: [{ key: 'local2', value: 'after kcat' }] });
    await producer.disconnect();
    expect(consumeAll(broker, 'shared')).toEqual([
      'local|from the app|',
      'remote|from kcat|',
      'local2|after kcat|',
    ]);
  });

  it('wakes an in-process group consumer with records produced by remote clients', async () => {
    const { kafka, broker } = await inProcess();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'events' }] });
    await admin.disconnect();
    const consumer = kafka.consumer({ groupId: 'app' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'events', fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(`${message.key?.toString()}|${message.value?.toString()}`);
      },
    });
    cleanups.push(() => consumer.disconnect());
    const remote = new KafkaJS({ brokers: [broker], logLevel: kjsLogLevel.NOTHING });
    const producer = remote.producer();
    await producer.connect();
    await producer.send({ topic: 'events', messages: [{ key: 'kafkajs', value: '1' }] });
    await producer.disconnect();
    kcat(broker, ['-P', '-t', 'events', '-K', ':'], 'kcat:2\n');
    await until(() => seen.length >= 2, 'both remote records in process');
    expect(seen).toEqual(['kafkajs|1', 'kcat|2']);
  });

  it('serves kafkajs 2.2.4: producer with acks and gzip, idempotent producer, admin', async () => {
    const { broker, dir } = await inProcess();
    const client = new KafkaJS({
      clientId: 'kjs',
      brokers: [broker],
      logLevel: kjsLogLevel.NOTHING,
      retry: { retries: 2 },
    });
    const admin = client.admin();
    await admin.connect();
    expect(await admin.createTopics({ topics: [{ topic: 'kjs', numPartitions: 2 }] })).toBe(true);
    expect(await admin.listTopics()).toContain('kjs');
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);

    const producer = client.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const sent: string[] = [];
    // acks=0 gets no response; the gzip send after it on the same
    // connection is answered only once it is appended (one request at a time).
    for (const acks of [-1, 1, 0]) {
      const r = await producer.send({
        topic: 'kjs',
        acks,
        messages: [0, 1, 2].map((i) => ({ key: `a${acks}-${i}`, value: `v${i}`, partition: 0 })),
      });
      if (acks !== 0) expect(r[0]?.errorCode).toBe(0);
      for (const i of [0, 1, 2]) sent.push(`a${acks}-${i}|v${i}`);
    }
    await producer.send({
      topic: 'kjs',
      compression: CompressionTypes.GZIP,
      messages: [{ key: 'gz', value: 'compressed'.repeat(20), partition: 0 }],
    });
    sent.push(`gz|${'compressed'.repeat(20)}`);
    await producer.disconnect();
    expect(await readLog(dir, 'kjs', 0)).toEqual(sent);

    const idem = client.producer({ idempotent: true, maxInFlightRequests: 1 });
    await idem.connect();
    for (let i = 0; i < 5; i++) {
      await idem.send({ topic: 'idem', acks: -1, messages: [{ key: `i${i}`, value: `once ${i}` }] });
    }
    await idem.disconnect();
    expect(await readLog(dir, 'idem')).toEqual([0, 1, 2, 3, 4].map((i) => `i${i}|once ${i}`));

    const offsets = await admin.fetchTopicOffsets('kjs');
    const p0 = offsets.find((o) => o.partition === 0);
    expect(p0?.high).toBe(String(sent.length));
    expect(p0?.low).toBe('0');
    await admin.createPartitions({ topicPartitions: [{ topic: 'kjs', count: 4 }] });
    const meta = await admin.fetchTopicMetadata({ topics: ['kjs'] });
    expect(meta.topics[0]?.partitions).toHaveLength(4);
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: 'kjs', configNames: ['retention.ms'] }],
    });
    expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('604800000');
    await admin.deleteTopicRecords({ topic: 'kjs', partitions: [{ partition: 0, offset: '2' }] });
    expect((await admin.fetchTopicOffsets('kjs')).find((o) => o.partition === 0)?.low).toBe('2');
    await admin.deleteTopics({ topics: ['kjs'] });
    expect(await admin.listTopics()).not.toContain('kjs');
    await admin.disconnect();
  });

  it('serves librdkafka from Python: idempotent Producer and AdminClient', async () => {
    const { broker, dir } = await inProcess();
    const script = `
import sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
b = sys.argv[1]
admin = AdminClient({'bootstrap.servers': b})
for f in admin.create_topics([NewTopic('py', num_partitions=2, replication_factor=1)]).values():
    f.result(30)
assert 'py' in admin.list_topics(timeout=30).topics
p = Producer({'bootstrap.servers': b, 'enable.idempotence': True, 'linger.ms': 5})
errors = []
def done(err, msg):
    if err is not None:
        errors.append(str(err))
for i in range(100):
    p.produce('py', key=('k%d' % i).encode(), value=('python %d' % i).encode(), partition=i % 2,
              headers=[('lang', b'py')], on_delivery=done)
left = p.flush(30)
assert left == 0 and not errors, (left, errors)
print('ok')
`;
    const r = spawnSync(PYTHON, ['-c', script, broker], { encoding: 'utf8', timeout: 90_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('ok');
    for (const part of [0, 1]) {
      const want = Array.from({ length: 50 }, (_, j) => j * 2 + part).map((i) => `k${i}|python ${i}|lang=py`);
      expect(consumeAll(broker, 'py', part)).toEqual(want);
      expect(await readLog(dir, 'py', part)).toEqual(want.map((w) => w.replace('|lang=py', '')));
    }
  });

  it('requires SASL (PLAIN, SCRAM-SHA-256/512) when given users: kcat and kafkajs authenticate, a wrong password is refused', async () => {
    const dir = tempDir();
    const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
    // alice is a super user: ACLs are enforced with SASL (broker-security.test.ts).
    const server = await kafka.listen({ port: 0, saslUsers: { alice: 's3cret' }, superUsers: ['alice'] });
    cleanups.push(() => server.close());
    const broker = `${server.address.host}:${server.address.port}`;
    const auth = (password: string) => [
      '-X',
      'security.protocol=SASL_PLAINTEXT',
      '-X',
      'sasl.mechanisms=PLAIN',
      '-X',
      'sasl.username=alice',
      '-X',
      `sasl.password=${password}`,
    ];
    kcat(broker, [...auth('s3cret'), '-P', '-t', 'secure', '-K', ':'], 'k:authenticated\n');
    expect(
      kcat(broker, [...auth('s3cret'), '-C', '-t', 'secure', '-o', 'beginning', '-e', '-q', '-f', '%k|%s\n']),
    ).toBe('k|authenticated\n');
    const denied = spawnSync(KCAT, ['-b', broker, ...auth('wrong'), '-L', '-m', '5'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(denied.status).not.toBe(0);
    // Without SASL at all, the broker closes the connection: no metadata.
    const anonymous = spawnSync(KCAT, ['-b', broker, '-L', '-m', '5'], { encoding: 'utf8', timeout: 60_000 });
    expect(anonymous.status).not.toBe(0);

    const good = new KafkaJS({
      brokers: [broker],
      logLevel: kjsLogLevel.NOTHING,
      sasl: { mechanism: 'plain', username: 'alice', password: 's3cret' },
    });
    const producer = good.producer();
    await producer.connect();
    await producer.send({
      topic: 'secure',
      acks: -1,
      messages: [{ key: 'kjs', value: 'also authenticated' }],
    });
    await producer.disconnect();
    expect(await readLog(dir, 'secure')).toEqual(['k|authenticated', 'kjs|also authenticated']);
    // SCRAM: kcat and kafkajs with both hashes; the password never crosses.
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
      const scram = [
        '-X',
        'security.protocol=SASL_PLAINTEXT',
        '-X',
        `sasl.mechanisms=${mechanism}`,
        '-X',
        'sasl.username=alice',
      ];
      kcat(
        broker,
        [...scram, '-X', 'sasl.password=s3cret', '-P', '-t', 'scram', '-K', ':'],
        `${mechanism}:kcat\n`,
      );
      const wrong = spawnSync(KCAT, ['-b', broker, ...scram, '-X', 'sasl.password=nope', '-L', '-m', '5'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(wrong.status, mechanism).not.toBe(0);
      const kjs = new KafkaJS({
        brokers: [broker],
        logLevel: kjsLogLevel.NOTHING,
        sasl:
          mechanism === 'SCRAM-SHA-256'
            ? { mechanism: 'scram-sha-256', username: 'alice', password: 's3cret' }
            : { mechanism: 'scram-sha-512', username: 'alice', password: 's3cret' },
      });
      const p = kjs.producer();
      await p.connect();
      await p.send({ topic: 'scram', messages: [{ key: mechanism, value: 'kafkajs' }] });
      await p.disconnect();
    }
    expect(await readLog(dir, 'scram')).toEqual([
      'SCRAM-SHA-256|kcat',
      'SCRAM-SHA-256|kafkajs',
      'SCRAM-SHA-512|kcat',
      'SCRAM-SHA-512|kafkajs',
    ]);
    const bad = new KafkaJS({
      brokers: [broker],
      logLevel: kjsLogLevel.NOTHING,
      retry: { retries: 0 },
      sasl: { mechanism: 'plain', username: 'alice', password: 'nope' },
    });
    const admin = bad.admin();
    await expect(admin.connect()).rejects.toThrow(/SASL PLAIN authentication failed|Authentication failed/);
  }, 90_000);

  it("applies the client's defaultTopicConfig and groupCoordinator to what it serves", async () => {
    const kafka = new Kafka({
      dataDir: tempDir(),
      logLevel: 0,
      defaultTopicConfig: { 'retention.ms': 123456 },
      groupCoordinator: { initialRebalanceDelayMs: 6000 },
    });
    const server = await kafka.listen({ port: 0 });
    cleanups.push(() => server.close());
    const broker = `${server.address.host}:${server.address.port}`;
    kcat(broker, ['-P', '-t', 'defaults'], 'x\n');
    const client = new KafkaJS({ brokers: [broker], logLevel: kjsLogLevel.NOTHING });
    const admin = client.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'defaults', configNames: ['retention.ms'] }],
    });
    expect(resources[0]?.configEntries[0]).toMatchObject({
      configName: 'retention.ms',
      configValue: '123456',
    });
    // The first member of a new group waits out the initial delay.
    const consumer = client.consumer({ groupId: 'waits' });
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topics: ['defaults'] });
    const running = consumer.run({ eachMessage: async () => undefined });
    let state = 'Dead';
    for (let i = 0; i < 3000 && (state === 'Dead' || state === 'Empty'); i++) {
      state = (await admin.describeGroups(['waits'])).groups[0]?.state ?? 'Dead';
    }
    expect(state).toBe('PreparingRebalance');
    await running;
  }, 60_000);

  it('refuses a non-loopback address without allowPlaintext', async () => {
    const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    await expect(kafka.listen({ host: '0.0.0.0', port: 0 })).rejects.toThrow(/allowPlaintext/);
  });
});

describe('ferrolog serve', () => {
  async function serve(
    dir: string,
    extra: string[] = [],
  ): Promise<{ child: ChildProcess; broker: string; err: () => string }> {
    const child = spawn(process.execPath, [
      bin,
      'serve',
      '--data-dir',
      dir,
      '--listen',
      '127.0.0.1:0',
      ...extra,
    ]);
    let err = '';
    child.stderr?.on('data', (d) => {
      err += d;
    });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, 'SIGKILL');
      }
    });
    await until(
      () => /serving .* on 127\.0\.0\.1:\d+/.test(err) || child.exitCode !== null,
      'the serve line',
    );
    const m = /on (127\.0\.0\.1:\d+)/.exec(err);
    if (!m) throw new Error(`serve did not start: ${err}`);
    return { child, broker: m[1] as string, err: () => err };
  }

  it('serves kcat and kafkajs from a child process and shuts down cleanly on SIGTERM', async () => {
    const dir = tempDir();
    const { child, broker, err } = await serve(dir);
    kcat(broker, ['-P', '-t', 'cli', '-K', ':', '-z', 'lz4'], 'a:1\nb:2\nc:3\n');
    const client = new KafkaJS({ brokers: [broker], logLevel: kjsLogLevel.NOTHING });
    const producer = client.producer();
    await producer.connect();
    await producer.send({ topic: 'cli', acks: -1, messages: [{ key: 'd', value: '4' }] });
    await producer.disconnect();
    expect(consumeAll(broker, 'cli')).toEqual(['a|1|', 'b|2|', 'c|3|', 'd|4|']);
    expect(kcat(broker, ['-L'])).toMatch(/topic "cli" with 1 partitions/);

    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    if (child.pid === undefined) throw new Error('no pid');
    process.kill(child.pid, 'SIGTERM');
    expect(await exited).toBe(0);
    expect(err()).toMatch(/stopped cleanly/);
    expect(existsSync(join(dir, '.ferrolog_cleanshutdown'))).toBe(true);
    const verify = spawnSync(process.execPath, [bin, 'verify', '--data-dir', dir], { encoding: 'utf8' });
    expect(verify.status, verify.stderr).toBe(0);
    expect(await readLog(dir, 'cli')).toEqual(['a|1', 'b|2', 'c|3', 'd|4']);
  });

  it('stays up through a 2 GiB length prefix and garbage, and stops on SIGINT', async () => {
    const dir = tempDir();
    const { child, broker } = await serve(dir);
    const [host, port] = broker.split(':') as [string, string];
    const { connect } = await import('node:net');
    for (const bytes of [Buffer.from([0x7f, 0xff, 0xff, 0xff]), Buffer.from('GET / HTTP/1.1\r\n\r\n')]) {
      const closed = await new Promise<boolean>((resolve) => {
        const s = connect(Number(port), host, () => s.write(bytes));
        s.on('close', () => resolve(true));
        s.on('error', () => undefined);
      });
      expect(closed).toBe(true);
    }
    kcat(broker, ['-P', '-t', 'after'], 'still here\n');
    expect(consumeAll(broker, 'after')).toEqual(['|still here|']);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    if (child.pid === undefined) throw new Error('no pid');
    process.kill(child.pid, 'SIGINT');
    expect(await exited).toBe(0);
  });

  it('listens beyond loopback only with --allow-plaintext, and warns', async () => {
    const child = spawn(process.execPath, [
      bin,
      'serve',
      '--data-dir',
      tempDir(),
      '--listen',
      '0.0.0.0:0',
      '--allow-plaintext',
    ]);
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, 'SIGKILL');
      }
    });
    await until(() => /serving .* on 0\.0\.0\.0:\d+/.test(err) || child.exitCode !== null, 'the serve line');
    expect(err).toMatch(/without authentication or encryption/);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    if (child.pid === undefined) throw new Error('no pid');
    process.kill(child.pid, 'SIGTERM');
    expect(await exited).toBe(0);
  });

  it('takes SASL/PLAIN users from a file', async () => {
    const dir = tempDir();
    const users = join(tempDir(), 'users');
    writeFileSync(users, '# user:password\nalice:s3cret\n\nbob:hunter2\n');
    const { child, broker } = await serve(dir, ['--sasl-users', users, '--super-users', 'bob']);
    const auth = [
      '-X',
      'security.protocol=SASL_PLAINTEXT',
      '-X',
      'sasl.mechanisms=PLAIN',
      '-X',
      'sasl.username=bob',
    ];
    expect(kcat(broker, [...auth, '-X', 'sasl.password=hunter2', '-L'])).toMatch(/1 brokers/);
    const denied = spawnSync(KCAT, ['-b', broker, ...auth, '-X', 'sasl.password=s3cret', '-L', '-m', '5'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(denied.status).not.toBe(0);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    if (child.pid === undefined) throw new Error('no pid');
    process.kill(child.pid, 'SIGTERM');
    expect(await exited).toBe(0);
  });

  it('takes Kafka broker settings with --override, and refuses unknown or bad ones', async () => {
    const dir = tempDir();
    const { child, broker } = await serve(dir, [
      '--override',
      'num.partitions=3',
      '--override',
      'group.initial.rebalance.delay.ms=6000',
    ]);
    // num.partitions: an auto-created topic gets three partitions.
    kcat(broker, ['-P', '-t', 'auto'], 'x\n');
    expect(kcat(broker, ['-L', '-t', 'auto'])).toMatch(/topic "auto" with 3 partitions/);
    // group.initial.rebalance.delay.ms: the coordinator holds a new group's
    // first rebalance open, so a second member that arrives during the
    // delay joins the same generation and nobody rebalances. With a delay
    // of 0 the first member's join completes at once (Empty -> Stable) and
    // the second one's arrival makes it join again.
    const client = new KafkaJS({ brokers: [broker], logLevel: kjsLogLevel.NOTHING });
    const admin = client.admin();
    await admin.connect();
    const state = async () => (await admin.describeGroups(['delayed'])).groups[0];
    const joins = [0, 0];
    const consumers = [0, 1].map((i) => {
      const c = client.consumer({ groupId: 'delayed', sessionTimeout: 30_000, heartbeatInterval: 500 });
      c.on(c.events.GROUP_JOIN, () => {
        joins[i] = (joins[i] ?? 0) + 1;
      });
      return c;
    });
    try {
      for (const c of consumers) {
        await c.connect();
        await c.subscribe({ topics: ['auto'], fromBeginning: true });
      }
      // kafkajs's run() resolves once the member has joined, so it is not
      // awaited here: the group is looked at while the first join waits.
      const running = [consumers[0]?.run({ eachMessage: async () => undefined })];
      let first = 'Empty';
      for (let i = 0; i < 3000 && (first === 'Empty' || first === 'Dead'); i++) {
        first = (await state())?.state ?? 'Empty';
      }
      expect(first).toBe('PreparingRebalance');
      running.push(consumers[1]?.run({ eachMessage: async () => undefined }));
      await Promise.all(running);
      await until(() => joins[0] === 1 && joins[1] === 1, 'both members joined');
      const group = await state();
      expect(group?.state).toBe('Stable');
      expect(group?.members).toHaveLength(2);
      expect(joins).toEqual([1, 1]);
    } finally {
      for (const c of consumers) await c.disconnect();
      await admin.disconnect();
    }
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    if (child.pid === undefined) throw new Error('no pid');
    process.kill(child.pid, 'SIGTERM');
    expect(await exited).toBe(0);

    const run = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [bin, 'serve', '--data-dir', tempDir(), '--listen', '127.0.0.1:0', ...args],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
    const typo = run('--override', 'group.initial.rebalance.delay=10');
    expect(typo.status).toBe(1);
    expect(typo.stderr).toMatch(/did you mean "group\.initial\.rebalance\.delay\.ms"/);
    const bad = run('--override', 'num.partitions=0');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/num\.partitions must be an integer from 1/);
    expect(run('--override', 'novalue').stderr).toMatch(/KEY=VALUE/);
    expect(run('--num-partitions', 'many').stderr).toMatch(/--num-partitions must be an integer/);
  }, 90_000);

  it('refuses a non-loopback --listen without --allow-plaintext', () => {
    const r = spawnSync(process.execPath, [bin, 'serve', '--data-dir', tempDir(), '--listen', '0.0.0.0:0'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--allow-plaintext/);
  });
});
