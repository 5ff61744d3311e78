/**
 * Leader failover on a real three-node Apache Kafka 4.1 cluster (its own,
 * since a node is killed), through ferrolog's remote transport: an
 * idempotent acks=all producer and a consumer group run while the leader of
 * partition 0 is SIGKILLed. Every acknowledged message is stored exactly
 * once, and the group goes on consuming until it has seen every one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from '../ts';
import type { KafkaCluster } from './kafka/cluster.mjs';
import { startCluster, stopCluster } from './kafka/cluster.mjs';
import { javaAvailable } from './kafka/jars.mjs';

const HAVE_JAVA = javaAvailable();
if (!HAVE_JAVA) console.warn('remote-failover.test.ts: `java` not found, so this test is SKIPPED');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!HAVE_JAVA)('remote transport: leader failover on a 3-node Kafka cluster', () => {
  let cluster: KafkaCluster | null = null;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, config: { 'min.insync.replicas': 2 } });
  }, 180_000);

  afterAll(async () => {
    if (cluster !== null) await stopCluster(cluster);
  }, 60_000);

  it('stores every acknowledged message once and the group keeps consuming', async () => {
    const c = cluster as KafkaCluster;
    const kafka = new Kafka({
      clientId: 'failover',
      brokers: c.bootstrap.split(','),
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 100 },
    });
    const topic = 'failover';
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }] });
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const victim = meta.topics[0]?.partitions.find((p) => p.partitionId === 0)?.leader;
    expect(victim).toBeGreaterThan(0);

    const seen = new Map<string, number>();
    const consumer = kafka.consumer({ groupId: 'failover-group', sessionTimeout: 10_000 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const v = message.value?.toString() ?? '';
        seen.set(v, (seen.get(v) ?? 0) + 1);
      },
    });

    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const acked: string[] = [];
    let killed = false;
    for (let round = 0; round < 60; round++) {
      const values = Array.from({ length: 50 }, (_, i) => `r${round}-m${i}`);
      await producer.send({
        topic,
        acks: -1,
        messages: values.map((value, i) => ({ key: String(i), value })),
      });
      acked.push(...values);
      if (round === 20) {
        process.kill((c.nodes.find((n) => n.id === victim) as { pid: number }).pid, 'SIGKILL');
        killed = true;
      }
    }
    expect(killed).toBe(true);
    await producer.disconnect();

    // The group continues: it sees every acknowledged message.
    const deadline = Date.now() + 90_000;
    while (acked.some((v) => !seen.has(v)) && Date.now() < deadline) await sleep(200);
    const missing = acked.filter((v) => !seen.has(v));
    expect(missing.slice(0, 5)).toEqual([]);
    await consumer.disconnect();

    // Exactly once in the log: a fresh reader from the start counts each value.
    const stored = new Map<string, number>();
    const reader = kafka.consumer({ groupId: 'failover-check' });
    await reader.connect();
    await reader.subscribe({ topics: [topic], fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        const v = message.value?.toString() ?? '';
        stored.set(v, (stored.get(v) ?? 0) + 1);
      },
    });
    const until = Date.now() + 60_000;
    while (stored.size < acked.length && Date.now() < until) await sleep(200);
    await sleep(1000);
    await reader.disconnect();
    await admin.disconnect();
    expect(stored.size).toBe(acked.length);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
  }, 300_000);
});
