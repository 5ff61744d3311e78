/**
 * One producer/admin suite on the three targets of test/targets.ts (in
 * process, ferrolog's broker, the shared Apache Kafka cluster, SKIPPED,
 * visibly, when `java` is absent), plus any brokers named by
 * FERROLOG_TEST_BROKERS. The test code is the same for each: only the
 * `Kafka` config differs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes, Kafka, KafkaJSError, logLevel } from '../ts';
import { javaAvailable } from './kafka/jars.mjs';
import { type Target as PlaceTarget, threeTargets } from './targets';

if (!javaAvailable()) console.warn('remote.test.ts: `java` not found, so the Apache Kafka target is SKIPPED');

interface Target extends Omit<PlaceTarget, 'kind'> {
  /** Whether the target serves the group APIs (FindCoordinator, JoinGroup, ...). */
  groups: boolean;
}

// In process, ferrolog's broker (it serves the group APIs from the engine's
// coordinator) and the shared Kafka cluster all serve the group APIs.
const targets: Target[] = threeTargets('suite').map((t) => ({ ...t, groups: true }));

// Any other broker: FERROLOG_TEST_BROKERS=host:port[,...] (FERROLOG_TEST_GROUPS=0 when it has no group APIs).
const external = process.env.FERROLOG_TEST_BROKERS;
if (external !== undefined && external.length > 0) {
  targets.push({
    name: `brokers at ${external} (remote)`,
    available: true,
    groups: process.env.FERROLOG_TEST_GROUPS !== '0',
    setup: async () => {},
    teardown: async () => {},
    kafka: () => new Kafka({ clientId: 'suite', brokers: external.split(','), logLevel: logLevel.NOTHING }),
  });
}

let n = 0;
const unique = (p: string): string => `${p}-${process.pid}-${n++}`;

for (const target of targets) {
  describe.skipIf(!target.available)(`producer and admin: ${target.name}`, () => {
    beforeAll(() => target.setup(), 120_000);
    afterAll(() => target.teardown(), 60_000);

    it('creates, describes, grows and deletes topics', async () => {
      const kafka = target.kafka();
      const admin = kafka.admin();
      await admin.connect();
      const topic = unique('topics');
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })).toBe(true);
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })).toBe(false);
      expect(await admin.listTopics()).toContain(topic);
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(meta.topics[0]?.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1]);
      await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] });
      expect((await admin.fetchTopicOffsets(topic)).map((o) => o.partition).sort()).toEqual([0, 1, 2]);
      await admin.deleteTopics({ topics: [topic] });
      for (let i = 0; i < 50 && (await admin.listTopics()).includes(topic); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(await admin.listTopics()).not.toContain(topic);
      await admin.disconnect();
    });

    it('produces with keys, explicit partitions, every acks, GZIP and sendBatch; offsets add up', async () => {
      const kafka = target.kafka();
      const admin = kafka.admin();
      await admin.connect();
      const topic = unique('produce');
      const other = unique('other');
      await admin.createTopics({
        topics: [
          { topic, numPartitions: 2 },
          { topic: other, numPartitions: 1 },
        ],
      });
      const producer = kafka.producer();
      await producer.connect();
      const r1 = await producer.send({
        topic,
        messages: [
          { key: 'k', value: 'a', partition: 0 },
          { key: 'k', value: 'b', partition: 0 },
          { value: 'c', partition: 1, headers: { h: 'v' } },
        ],
      });
      expect(r1.map((r) => [r.partition, r.errorCode, r.baseOffset])).toEqual([
        [0, 0, '0'],
        [1, 0, '0'],
      ]);
      const r2 = await producer.send({
        topic,
        acks: 1,
        compression: CompressionTypes.GZIP,
        messages: [{ value: 'd', partition: 0 }],
      });
      expect(r2[0]?.baseOffset).toBe('2');
      expect(await producer.send({ topic, acks: 0, messages: [{ value: 'e', partition: 1 }] })).toEqual([]);
      const r3 = await producer.sendBatch({
        topicMessages: [
          { topic, messages: [{ value: 'f', partition: 1 }] },
          {
            topic: other,
            messages: [
              { key: 'x', value: 'g' },
              { key: 'y', value: 'h' },
            ],
          },
        ],
      });
      expect(r3.find((r) => r.topicName === other)?.baseOffset).toBe('0');
      // Keyed messages of one send land on one partition per key, concurrent sends each get their own offsets.
      const many = await Promise.all(
        Array.from({ length: 50 }, (_, i) => producer.send({ topic: other, messages: [{ value: `m${i}` }] })),
      );
      const offsets = many.map((r) => Number(r[0]?.baseOffset)).sort((a, b) => a - b);
      expect(offsets).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
      await producer.disconnect();
      const high = async (t: string): Promise<number[]> =>
        (await admin.fetchTopicOffsets(t))
          .sort((a, b) => a.partition - b.partition)
          .map((o) => Number(o.high));
      // acks=0 lands eventually.
      for (let i = 0; i < 50 && (await high(topic))[1] !== 3; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(await high(topic)).toEqual([3, 3]);
      expect(await high(other)).toEqual([52]);
      await admin.disconnect();
    });

    it('an idempotent producer numbers its batches; the log holds each once', async () => {
      const kafka = target.kafka();
      const admin = kafka.admin();
      await admin.connect();
      const topic = unique('idem');
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      expect(producer.isIdempotent()).toBe(true);
      for (let i = 0; i < 5; i++) {
        await Promise.all([
          producer.send({ topic, messages: [{ value: `a${i}` }, { value: `b${i}` }] }),
          producer.send({ topic, messages: [{ value: `c${i}` }] }),
        ]);
      }
      await producer.disconnect();
      expect((await admin.fetchTopicOffsets(topic))[0]?.high).toBe('15');
      await admin.disconnect();
    });

    it('refuses unknown topics without auto-creation and creates them with it', async () => {
      const kafka = target.kafka();
      const strict = kafka.producer({ allowAutoTopicCreation: false });
      await strict.connect();
      const missing = unique('missing');
      await expect(strict.send({ topic: missing, messages: [{ value: 'x' }] })).rejects.toBeInstanceOf(
        KafkaJSError,
      );
      await strict.disconnect();
      const lenient = kafka.producer();
      await lenient.connect();
      const created = unique('auto');
      const r = await lenient.send({ topic: created, messages: [{ value: 'x' }] });
      expect(r[0]?.baseOffset).toBe('0');
      await lenient.disconnect();
    });

    it.skipIf(!target.groups)(
      'a consumer group reads what was produced, in order per partition, and commits',
      async () => {
        const kafka = target.kafka();
        const admin = kafka.admin();
        await admin.connect();
        const topic = unique('consume');
        const groupId = unique('readers');
        await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
        const producer = kafka.producer();
        await producer.connect();
        for (const partition of [0, 1])
          await producer.send({
            topic,
            messages: Array.from({ length: 10 }, (_, i) => ({
              key: `k${i}`,
              value: `p${partition}-${i}`,
              partition,
            })),
          });
        for (const partition of [0, 1])
          await producer.send({
            topic,
            messages: Array.from({ length: 10 }, (_, i) => ({ value: `p${partition}-${i + 10}`, partition })),
          });
        await producer.disconnect();
        // A per-partition limit of about one batch: fetches end in partial batches.
        const consumer = kafka.consumer({
          groupId,
          heartbeatInterval: 500,
          maxWaitTimeInMs: 100,
          maxBytesPerPartition: 400,
        });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        const seen: Record<number, string[]> = { 0: [], 1: [] };
        let total = 0;
        await consumer.run({
          eachMessage: async ({ partition, message }) => {
            seen[partition]?.push(String(message.value));
            total++;
          },
        });
        for (let i = 0; i < 300 && total < 40; i++) await new Promise((r) => setTimeout(r, 100));
        await consumer.disconnect();
        expect(seen[0]).toEqual(Array.from({ length: 20 }, (_, i) => `p0-${i}`));
        expect(seen[1]).toEqual(Array.from({ length: 20 }, (_, i) => `p1-${i}`));
        const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
        expect(committed[0]?.partitions.map((p) => p.offset)).toEqual(['20', '20']);
        await admin.disconnect();
      },
    );

    it.skipIf(!target.groups)(
      'group offsets: set, fetch, reset, lag, delete records, delete group',
      async () => {
        const kafka = target.kafka();
        const admin = kafka.admin();
        await admin.connect();
        const topic = unique('offsets');
        const groupId = unique('group');
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
        const producer = kafka.producer();
        await producer.connect();
        await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })) });
        await producer.disconnect();
        await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '4' }] });
        const fetched = await admin.fetchOffsets({ groupId, topics: [topic] });
        expect(fetched[0]?.partitions[0]?.offset).toBe('4');
        const lag = await admin.fetchLag({ groupId, topics: [topic] });
        expect(lag[0]?.totalLag).toBe('6');
        await admin.resetOffsets({ groupId, topic, earliest: true });
        expect((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions[0]?.offset).toBe('0');
        await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '3' }] });
        expect((await admin.fetchTopicOffsets(topic))[0]?.low).toBe('3');
        expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain(groupId);
        const d = await admin.describeGroups([groupId]);
        expect(d.groups[0]?.members).toEqual([]);
        await admin.deleteGroups([groupId]);
        expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain(groupId);
        await admin.disconnect();
      },
    );
  });
}
