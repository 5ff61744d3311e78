/**
 * The remote consumer against Apache Kafka: a long poll in flight is cut
 * short by seek, pause, stop and disconnect (none waits for the poll's
 * maxWaitTimeInMs), with nothing lost or duplicated; and read_committed
 * (kafkajs's default isolation) drops the records of aborted transactions
 * written by a real transactional producer (librdkafka through Python's
 * confluent-kafka), agreeing record for record with librdkafka's consumer
 * in both isolation levels.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from '../ts';
import { javaAvailable } from './kafka/jars.mjs';
import { type SharedKafka, useKafka } from './kafka/shared.mjs';

const HAVE_JAVA = javaAvailable();
if (!HAVE_JAVA)
  console.warn('remote-consume.test.ts: `java` not found, so these Apache Kafka tests are SKIPPED');
const PYTHON = '/usr/bin/python3';
/** The long poll every test here sits in: far longer than any step may take. */
const LONG_POLL_MS = 10_000;
/** A step cut short takes milliseconds; waiting for the poll would take LONG_POLL_MS. */
const PROMPT_MS = LONG_POLL_MS / 2;

const uniq = () => `${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!HAVE_JAVA)('remote consumer against Apache Kafka', () => {
  let cluster: SharedKafka;
  let kafka: Kafka;
  beforeAll(async () => {
    cluster = await useKafka({ nodes: 1 });
    kafka = new Kafka({
      clientId: 'remote-consume',
      brokers: [cluster.bootstrap],
      logLevel: logLevel.NOTHING,
    });
  }, 180_000);
  afterAll(async () => {
    await cluster?.release();
  });

  it('seek, pause, stop and disconnect cut a long poll short; nothing is lost or duplicated', async () => {
    const topic = `longpoll-${uniq()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    const send = (from: number, n: number) =>
      producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({ value: `m${from + i}` })),
      });
    await send(0, 10);

    const consumer = kafka.consumer({ groupId: `longpoll-${uniq()}`, maxWaitTimeInMs: LONG_POLL_MS });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(`${message.offset}:${String(message.value)}`);
      },
    });
    const first = Array.from({ length: 10 }, (_, i) => `${i}:m${i}`);
    await until(() => seen.length >= 10, 'the first 10 messages');
    expect(seen).toEqual(first);
    // Caught up: the consumer now waits in a fetch of up to LONG_POLL_MS.
    await new Promise((r) => setTimeout(r, 300));

    // seek: the poll is cancelled and the partition read again from offset 3.
    let t = Date.now();
    consumer.seek({ topic, partition: 0, offset: '3' });
    await until(() => seen.length >= 17, 'the messages after the seek');
    expect(Date.now() - t).toBeLessThan(PROMPT_MS);
    expect(seen.slice(10)).toEqual(first.slice(3));

    // pause during a poll: what is written meanwhile stays unread until resume.
    await new Promise((r) => setTimeout(r, 300));
    consumer.pause([{ topic }]);
    await send(10, 3);
    await new Promise((r) => setTimeout(r, 500));
    expect(seen).toHaveLength(17);
    t = Date.now();
    consumer.resume([{ topic }]);
    await until(() => seen.length >= 20, 'the messages after resume');
    expect(Date.now() - t).toBeLessThan(PROMPT_MS);
    expect(seen.slice(17)).toEqual(['10:m10', '11:m11', '12:m12']);

    // New data still reaches a consumer in a long poll, once.
    await new Promise((r) => setTimeout(r, 300));
    await send(13, 2);
    await until(() => seen.length >= 22, 'the messages written during the poll');
    expect(seen.slice(20)).toEqual(['13:m13', '14:m14']);

    // stop and disconnect while polling.
    await new Promise((r) => setTimeout(r, 300));
    t = Date.now();
    await consumer.stop();
    expect(Date.now() - t).toBeLessThan(PROMPT_MS);
    t = Date.now();
    await consumer.disconnect();
    expect(Date.now() - t).toBeLessThan(PROMPT_MS);
    expect(seen).toHaveLength(22);

    // Everything was committed once: a new member of the group starts after it.
    await send(15, 1);
    await producer.disconnect();
    const again = kafka.consumer({ groupId: `longpoll-check-${uniq()}`, maxWaitTimeInMs: 200 });
    await again.connect();
    await again.subscribe({ topic, fromBeginning: true });
    const all: string[] = [];
    await again.run({ eachMessage: async ({ message }) => void all.push(String(message.value)) });
    await until(() => all.length >= 16, 'the whole partition');
    await again.disconnect();
    expect(all).toEqual(Array.from({ length: 16 }, (_, i) => `m${i}`));
  }, 120_000);

  it('read_committed drops aborted transactions as librdkafka does; read_uncommitted sees them', async () => {
    const topic = `txn-${uniq()}`;
    // Two transactional producers, one partition: whole transactions
    // committed and aborted, one aborted while the other's commits
    // interleave with it, and an aborted one last before a final commit
    // (a consumer must move past aborted batches at the end of a fetch).
    const script = `
import sys, json
from confluent_kafka import Producer, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
b, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({'bootstrap.servers': b})
for f in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]).values():
    f.result(60)
def producer(tid):
    p = Producer({'bootstrap.servers': b, 'transactional.id': tid, 'linger.ms': 0})
    p.init_transactions(60)
    return p
p1, p2 = producer(topic + '-1'), producer(topic + '-2')
def put(p, v):
    p.produce(topic, value=v.encode(), partition=0)
    p.flush(30)
p1.begin_transaction(); put(p1, 'c1'); put(p1, 'c2'); p1.commit_transaction(60)
p1.begin_transaction(); put(p1, 'a1'); put(p1, 'a2'); p1.abort_transaction(60)
p1.begin_transaction(); put(p1, 'x1')
p2.begin_transaction(); put(p2, 'y1')
put(p1, 'x2'); put(p2, 'y2')
p1.abort_transaction(60); p2.commit_transaction(60)
p2.begin_transaction(); put(p2, 'c3'); p2.commit_transaction(60)
p1.begin_transaction(); put(p1, 'a3'); p1.abort_transaction(60)
p2.begin_transaction(); put(p2, 'a4'); p2.abort_transaction(60)
p1.begin_transaction(); put(p1, 'c4'); p1.commit_transaction(60)
out = {}
for level in ['read_committed', 'read_uncommitted']:
    c = Consumer({'bootstrap.servers': b, 'group.id': topic + level, 'isolation.level': level,
                  'enable.auto.commit': False})
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    idle = 0
    while idle < 5:
        m = c.poll(1.0)
        if m is None:
            idle += 1
            continue
        if m.error():
            continue
        got.append('%d:%s' % (m.offset(), m.value().decode()))
    c.close()
    out[level] = got
print(json.dumps(out))
`;
    const r = spawnSync(PYTHON, ['-c', script, cluster.bootstrap, topic], {
      encoding: 'utf8',
      timeout: 150_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const librdkafka = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, string[]>;
    const values = (xs: string[]) => xs.map((x) => x.split(':')[1]);
    // What Kafka's rule gives, independently of either client.
    expect(values(librdkafka.read_committed as string[])).toEqual(['c1', 'c2', 'y1', 'y2', 'c3', 'c4']);
    expect(values(librdkafka.read_uncommitted as string[])).toEqual([
      'c1',
      'c2',
      'a1',
      'a2',
      'x1',
      'y1',
      'x2',
      'y2',
      'c3',
      'a3',
      'a4',
      'c4',
    ]);

    for (const readUncommitted of [false, true]) {
      const consumer = kafka.consumer({
        groupId: `txn-${readUncommitted}-${uniq()}`,
        readUncommitted,
        maxWaitTimeInMs: 200,
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got: string[] = [];
      const want = librdkafka[readUncommitted ? 'read_uncommitted' : 'read_committed'] as string[];
      await consumer.run({
        eachMessage: async ({ message }) => void got.push(`${message.offset}:${String(message.value)}`),
      });
      await until(() => got.length >= want.length, `${want.length} records (have ${got.join(',')})`);
      // Nothing more comes (the aborted records are not merely late).
      await new Promise((r) => setTimeout(r, 1000));
      await consumer.disconnect();
      expect(got).toEqual(want);
    }
  }, 180_000);
});
