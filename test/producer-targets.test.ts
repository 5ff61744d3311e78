/**
 * One producer, three targets: the same sends, results, events and errors
 * in process, against ferrolog's broker and against an Apache Kafka cluster
 * (the run's shared one, test/kafka/shared.mjs). Only the `Kafka` config
 * differs; the producer under it is the same code over another transport.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaJSNonRetriableError, KafkaJSSerializationError, KafkaJSTopicNotFound } from '../ts';
import { threeTargets } from './targets';

const targets = threeTargets('targets');

let n = 0;
const unique = (p: string): string => `${p}-${process.pid}-${n++}`;

for (const target of targets) {
  describe.skipIf(!target.available)(`one producer: ${target.name}`, () => {
    beforeAll(() => target.setup(), 180_000);
    afterAll(() => target.teardown(), 60_000);

    it('an idempotent producer: concurrent sends to several partitions land once each, in order', async () => {
      const kafka = target.kafka();
      const admin = kafka.admin();
      await admin.connect();
      const topic = unique('idem');
      const other = unique('idem-other');
      await admin.createTopics({
        topics: [
          { topic, numPartitions: 3 },
          { topic: other, numPartitions: 1 },
        ],
      });
      const producer = kafka.producer({ idempotent: true });
      const requests: string[] = [];
      producer.on(producer.events.REQUEST, (e) => requests.push(e.payload.apiName));
      await producer.connect();
      expect(producer.isIdempotent()).toBe(true);
      // 30 sends issued at once: one record to each partition per send.
      const sends = Array.from({ length: 30 }, (_, i) =>
        producer.send({
          topic,
          messages: [0, 1, 2].map((partition) => ({ value: `v${i}`, partition })),
        }),
      );
      const batch = producer.sendBatch({
        topicMessages: [
          { topic, messages: [{ value: 'last', partition: 2 }] },
          { topic: other, messages: [{ key: 'k', value: 'x' }] },
        ],
      });
      const results = await Promise.all(sends);
      // Each send learns its own offset on each partition: 0, 1, 2, ... with no gap or repeat.
      for (const partition of [0, 1, 2]) {
        expect(results.map((r) => Number(r.find((m) => m.partition === partition)?.baseOffset))).toEqual(
          Array.from({ length: 30 }, (_, i) => i),
        );
      }
      expect((await batch).map((m) => [m.topicName, m.partition, m.baseOffset, m.errorCode])).toEqual([
        [topic, 2, '30', 0],
        [other, 0, '0', 0],
      ]);
      // Batched: far fewer Produce requests than sends.
      expect(requests.length).toBeGreaterThan(0);
      expect(requests.length).toBeLessThan(31);
      expect(new Set(requests)).toEqual(new Set(['Produce']));
      await producer.disconnect();
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.map((o) => [o.partition, o.high]).sort()).toEqual([
        [0, '30'],
        [1, '30'],
        [2, '31'],
      ]);
      await admin.disconnect();
    });

    it('an awaited acks 0 send is on its way before the next send starts: sequential sends keep their order', async () => {
      const kafka = target.kafka();
      const admin = kafka.admin();
      await admin.connect();
      const topic = unique('acks0-order');
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      const producer = kafka.producer();
      await producer.connect();
      for (let i = 0; i < 40; i++) {
        expect(await producer.send({ topic, acks: 0, messages: [{ value: `zero-${i}` }] })).toEqual([]);
        await producer.send({ topic, acks: 1, messages: [{ value: `one-${i}` }] });
      }
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: unique('acks0-order') });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const seen: string[] = [];
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(String(message.value));
        },
      });
      const deadline = Date.now() + 30_000;
      while (seen.length < 80 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await consumer.disconnect();
      await admin.disconnect();
      expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => [`zero-${i}`, `one-${i}`]).flat());
    }, 60_000);

    it('the same errors: unknown topic, bad partition, serializer, acks', async () => {
      const kafka = target.kafka();
      const producer = kafka.producer({
        allowAutoTopicCreation: false,
        serializers: {
          value: (v: unknown) => {
            if (v === 'bad') throw new Error('no');
            return String(v);
          },
        },
      });
      await producer.connect();
      const missing = unique('missing');
      await expect(producer.send({ topic: missing, messages: [{ value: 'x' }] })).rejects.toBeInstanceOf(
        KafkaJSTopicNotFound,
      );
      const admin = kafka.admin();
      await admin.connect();
      const topic = unique('errors');
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
      // An acknowledged write first: a Kafka partition can take a moment to
      // get its leader after CreateTopics, and an acks 0 record sent in that
      // moment is dropped with no answer to say so (Kafka's acks 0).
      const [first] = await producer.send({ topic, acks: 1, messages: [{ value: 'first', partition: 0 }] });
      expect(first?.baseOffset).toBe('0');
      await expect(producer.send({ topic, messages: [{ value: 'x', partition: 5 }] })).rejects.toBeInstanceOf(
        KafkaJSNonRetriableError,
      );
      const ser = await producer
        .send({ topic, messages: [{ value: 'ok' }, { value: 'bad' }] })
        .catch((e: Error) => e);
      expect(ser).toBeInstanceOf(KafkaJSSerializationError);
      expect((ser as KafkaJSSerializationError).index).toBe(1);
      // Nothing of a refused send was written; acks 0 answers [], once the batch is on its way.
      expect(await producer.send({ topic, acks: 0, messages: [{ value: 'z', partition: 0 }] })).toEqual([]);
      const [r] = await producer.send({ topic, acks: 1, messages: [{ value: 'y', partition: 0 }] });
      expect(r?.baseOffset).toBe('2');
      await producer.disconnect();
      const idem = kafka.producer({ idempotent: true });
      await idem.connect();
      await expect(idem.send({ topic, acks: 1, messages: [{ value: 'x' }] })).rejects.toBeInstanceOf(
        KafkaJSNonRetriableError,
      );
      await idem.disconnect();
      await admin.disconnect();
    });
  });
}
