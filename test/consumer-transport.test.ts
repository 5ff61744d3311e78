/**
 * The one consumer over its two transports: the same cases in process, over
 * ferrolog's broker and over an Apache Kafka cluster (the run's shared one;
 * SKIPPED, visibly, without `java`). Only the `Kafka` config differs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes, Kafka } from '../ts';
import { until } from './helpers';
import { threeTargets } from './targets';

const targets = threeTargets('ct');
if (!targets.every((t) => t.available))
  console.warn('consumer-transport.test.ts: `java` not found, so the Apache Kafka target is SKIPPED');

let n = 0;
const unique = (p: string): string => `${p}-${process.pid}-${n++}`;

// Fast rounds, so that the cases do not wait on idle long-polls.
const fast = { heartbeatInterval: 300, maxWaitTimeInMs: 100, metadataMaxAge: 200 };

for (const target of targets) {
  describe.skipIf(!target.available)(`one consumer: ${target.name}`, () => {
    beforeAll(() => target.setup(), 120_000);
    afterAll(() => target.teardown(), 60_000);

    it('hands eachBatch the same records as columns and as messages (compressed too), and resumes from its commit', async () => {
      const kafka = target.kafka();
      const topic = unique('cols');
      const groupId = unique('g');
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic,
        messages: Array.from({ length: 10 }, (_, i) => ({ key: i % 2 ? null : `k${i}`, value: `v${i}` })),
      });
      await producer.send({
        topic,
        compression: CompressionTypes.GZIP,
        messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i + 10}`, headers: { h: `x${i}` } })),
      });
      const first = kafka.consumer({ groupId, ...fast });
      await first.connect();
      await first.subscribe({ topic, fromBeginning: true });
      const fromColumns: string[] = [];
      const fromMessages: string[] = [];
      await first.run({
        eachBatch: async ({ batch }) => {
          const r = batch.records;
          for (let i = 0; i < r.length; i++) {
            const key = r.key(i);
            fromColumns.push(
              `${r.offsets[i]}:${key === null ? '-' : key}:${r.value(i)}:${r.headers(i).h ?? ''}`,
            );
          }
          for (const m of batch.messages)
            fromMessages.push(`${m.offset}:${m.key === null ? '-' : m.key}:${m.value}:${m.headers.h ?? ''}`);
        },
      });
      await until(() => fromColumns.length >= 20, 'twenty records');
      await first.disconnect();
      expect(fromColumns).toEqual(fromMessages);
      expect(fromColumns[1]).toBe('1:-:v1:');
      expect(fromColumns[12]).toBe('12:-:v12:x2');
      // Committed on disconnect: the group's next member starts after them.
      await producer.send({ topic, messages: [{ value: 'v20' }] });
      await producer.disconnect();
      const second = kafka.consumer({ groupId, ...fast });
      await second.connect();
      await second.subscribe({ topic, fromBeginning: true });
      const later: string[] = [];
      await second.run({
        eachMessage: async ({ message }) => {
          later.push(`${message.offset}:${message.value}`);
        },
      });
      await until(() => later.length >= 1, 'the new record');
      await second.disconnect();
      expect(later).toEqual(['20:v20']);
    }, 60_000);

    it('seeks, pauses and resumes while running', async () => {
      const kafka = target.kafka();
      const topic = unique('seek');
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: Array.from({ length: 8 }, (_, i) => ({ value: `v${i}` })) });
      const consumer = kafka.consumer({ groupId: unique('g'), ...fast });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const seen: string[] = [];
      let sought = false;
      await consumer.run({
        eachMessage: async ({ message, pause }) => {
          seen.push(String(message.value));
          if (message.offset === '5' && !sought) {
            sought = true;
            consumer.seek({ topic, partition: 0, offset: '2' });
          }
          if (message.offset === '7') pause();
        },
      });
      await until(() => seen.length >= 12, 'the sought records');
      // The message in hand when the seek came (offset 5) does not count: 2 follows it.
      expect(seen).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7']);
      expect(consumer.paused()).toEqual([{ topic, partitions: [0] }]);
      await producer.send({ topic, messages: [{ value: 'v8' }] });
      // Paused: nothing more arrives until resumed (a bound on what may slip through, not a timing assertion).
      await new Promise((r) => setTimeout(r, 300));
      expect(seen).toHaveLength(12);
      consumer.resume([{ topic, partitions: [0] }]);
      await until(() => seen.length === 13, 'the record after resume');
      expect(seen[12]).toBe('v8');
      await consumer.disconnect();
      await producer.disconnect();
    }, 60_000);

    it('a RegExp subscription picks up a topic created later', async () => {
      const kafka = target.kafka();
      const prefix = unique('re');
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: `${prefix}-a`, numPartitions: 1 }] });
      const consumer = kafka.consumer({ groupId: unique('g'), ...fast });
      await consumer.connect();
      await consumer.subscribe({ topics: [new RegExp(`^${prefix}-`)], fromBeginning: true });
      const seen = new Set<string>();
      await consumer.run({
        eachMessage: async ({ topic, message }) => {
          seen.add(`${topic}:${message.value}`);
        },
      });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: `${prefix}-a`, messages: [{ value: 'a' }] });
      await until(() => seen.has(`${prefix}-a:a`), 'the first topic');
      await admin.createTopics({ topics: [{ topic: `${prefix}-b`, numPartitions: 1 }] });
      await producer.send({ topic: `${prefix}-b`, messages: [{ value: 'b' }] });
      await until(() => seen.has(`${prefix}-b:b`), 'the topic created later', 30_000);
      await producer.disconnect();
      await consumer.disconnect();
      await admin.disconnect();
    }, 60_000);
  });
}

describe('liveness', () => {
  it('keeps a member whose first handler is still running at the heartbeat timer’s first look', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrolog-ct-live-'));
    const warnings: string[] = [];
    const kafka = new Kafka({
      clientId: 'ct',
      dataDir: dir,
      logCreator: () => (entry) => {
        if (/evicted/.test(entry.log.message)) warnings.push(entry.log.message);
      },
    });
    try {
      const producer = kafka.producer();
      await producer.connect();
      const topic = unique('live');
      await producer.send({ topic, messages: [{ value: 'slow' }, { value: 'next' }] });
      await producer.disconnect();
      // Ticks every 10 ms while the first handler runs for 150 ms: far less than rebalanceTimeout.
      const consumer = kafka.consumer({
        groupId: unique('g'),
        heartbeatInterval: 10,
        rebalanceTimeout: 5_000,
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const seen: string[] = [];
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (seen.length === 0) await new Promise((r) => setTimeout(r, 150));
          seen.push(String(message.value));
        },
      });
      await until(() => seen.length === 2, 'both messages');
      await consumer.disconnect();
      expect(warnings).toEqual([]);
      expect(seen).toEqual(['slow', 'next']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
