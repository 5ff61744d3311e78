/**
 * A lost acknowledgement, for real: the remote idempotent producer talks to
 * a broker through a proxy (kafka-proxy.ts) that forwards a Produce request,
 * lets the broker write it and answer, and then closes the connection
 * instead of passing the answer on. The producer cannot know the batch was
 * written, so it retries it; the broker must recognise the retry by its
 * producer id and sequence and keep one copy. The same test runs against
 * ferrolog's broker (`kafka.listen()`) and Apache Kafka 4.1, which must
 * behave alike. (The engine's own dedupe of a retried batch, in process, is
 * crates/engine/tests/engine.rs,
 * `idempotent_producers_dedupe_retries_and_reject_gaps_across_reopen`.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from '../ts';
import { tempDir, until } from './helpers';
import { useKafka } from './kafka/shared.mjs';
import { startLossyProxy } from './kafka-proxy';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

let n = 0;
const unique = (p: string): string => `${p}-${process.pid}-${Date.now()}-${n++}`;

/** Produces through a proxy that loses the second Produce answer; returns what the topic holds. */
async function loseAnAck(bootstrap: string) {
  const topic = unique('lost-ack');
  const direct = new Kafka({ clientId: 'check', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = direct.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  await admin.createTopics({
    topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
    waitForLeaders: true,
  });

  const proxy = await startLossyProxy(bootstrap);
  cleanups.push(() => proxy.close());
  const producer = new Kafka({
    clientId: 'lossy',
    brokers: [proxy.bootstrap],
    logLevel: logLevel.NOTHING,
  }).producer({ idempotent: true, retry: { initialRetryTime: 50, retries: 5 } });
  await producer.connect();
  cleanups.push(() => producer.disconnect());

  const [first] = await producer.send({ topic, messages: [{ value: 'first' }] });
  expect(first?.baseOffset).toBe('0');
  proxy.dropNextProduceResponses(1);
  const [second] = await producer.send({ topic, messages: [{ value: 'second' }, { value: 'third' }] });
  // The answer was lost after the broker wrote the batch...
  expect(proxy.dropped).toBe(1);
  // ...and the retry was told where the first attempt went.
  expect(second?.baseOffset).toBe('1');
  const [fourth] = await producer.send({ topic, messages: [{ value: 'fourth' }] });
  expect(fourth?.baseOffset).toBe('3');
  await producer.disconnect();

  const [offsets] = await admin.fetchTopicOffsets(topic);
  const values: string[] = [];
  const consumer = direct.consumer({ groupId: unique('lost-ack-check') });
  cleanups.push(() => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      values.push(String(message.value));
    },
  });
  const high = Number(offsets?.high);
  await until(() => values.length >= high, 'the topic read back', 30_000);
  await consumer.disconnect();
  return { high, values };
}

describe('idempotent producer: a lost acknowledgement', () => {
  it('is retried and written once, by ferrolog and by Apache Kafka', async () => {
    const owner = new Kafka({ clientId: 'owner', dataDir: tempDir(), logLevel: logLevel.NOTHING });
    const server = await owner.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => server.close());
    const ferrolog = await loseAnAck(`127.0.0.1:${server.address.port}`);
    expect(ferrolog).toEqual({ high: 4, values: ['first', 'second', 'third', 'fourth'] });

    const kafka = await useKafka({ nodes: 1 });
    cleanups.push(() => kafka.release());
    const apache = await loseAnAck(kafka.bootstrap);
    expect(apache).toEqual({ high: 4, values: ['first', 'second', 'third', 'fourth'] });
  }, 180_000);
});
