import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AssignerProtocol,
  type Consumer,
  Deserializers,
  deadLetterQueue,
  Kafka,
  KafkaJSDeleteGroupsError,
  KafkaJSDeserializationError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  PartitionAssigners,
} from '../ts';
import { assignedTo, tempDir, until } from './helpers';

const root = join(__dirname, '..');
const open: { disconnect(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.disconnect().catch(() => undefined);
});

function setup(partitions = 1) {
  const kafka = new Kafka({ dataDir: tempDir(), defaultNumPartitions: partitions, logLevel: 0 });
  return kafka;
}

async function produce(kafka: Kafka, topic: string, n: number, keyed = true) {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    acks: 1,
    messages: Array.from({ length: n }, (_, i) => ({ key: keyed ? `k${i}` : null, value: `v${i}` })),
  });
  await producer.disconnect();
}

function consumer<K = Buffer | null, V = Buffer | null>(
  kafka: Kafka,
  config: Parameters<Kafka['consumer']>[0],
): Consumer<K, V> {
  const c = kafka.consumer(config) as unknown as Consumer<K, V>;
  open.push(c);
  return c;
}

describe('consumer: the kafkajs documentation examples, as written', () => {
  it('subscribes by name and RegExp and consumes with eachMessage', async () => {
    const kafka = setup();
    for (const t of ['topic-A', 'topic-B', 'topic-C', 'topic-D', 'topic-eu-1', 'topic-US-2', 'other'])
      await produce(kafka, t, 3);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const consumer = kafka.consumer({ groupId: 'my-group' });
      open.push(consumer);
      await consumer.connect();
      await consumer.subscribe({ topic: 'topic-A' });
      // Subscribe can be called several times
      await consumer.subscribe({ topic: 'topic-B' });
      await consumer.subscribe({ topic: 'topic-C' });
      // It's possible to start from the beginning of the topic
      await consumer.subscribe({ topic: 'topic-D', fromBeginning: true });
      await consumer.subscribe({ topic: /topic-(eu|us)-.*/i, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          console.log({
            key: message.key?.toString(),
            value: message.value?.toString(),
            headers: message.headers,
            topic,
            partition,
          });
        },
      });
      // topic-A/B/C start at the latest offset (fromBeginning false); D and the RegExp ones from the start.
      await until(() => log.mock.calls.length >= 9, 'nine messages');
      const topics = log.mock.calls.map((c) => (c[0] as { topic: string }).topic);
      expect(new Set(topics)).toEqual(new Set(['topic-D', 'topic-eu-1', 'topic-US-2']));
      await produce(kafka, 'topic-A', 1);
      await until(
        () => log.mock.calls.some((c) => (c[0] as { topic: string }).topic === 'topic-A'),
        'topic-A message',
      );
    } finally {
      log.mockRestore();
    }
  });

  it('runs the eachBatch examples, with and without auto-resolve', async () => {
    const kafka = setup();
    await produce(kafka, 'b', 20);
    const seen: string[] = [];
    const consumer = kafka.consumer({ groupId: 'batch' });
    open.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: 'b', fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        for (const message of batch.messages) {
          if (!isRunning() || isStale()) break;
          seen.push(
            `${batch.topic}/${batch.partition}@${message.offset}:${message.value?.toString()} hw=${batch.highWatermark}`,
          );
          resolveOffset(message.offset);
          await heartbeat();
        }
      },
    });
    await until(() => seen.length === 20, 'twenty messages');
    expect(seen[0]).toBe('b/0@0:v0 hw=20');
    await consumer.disconnect();

    const processed: string[] = [];
    const processMessage = async (m: { offset: string }) => {
      processed.push(m.offset);
    };
    const manual = kafka.consumer({ groupId: 'batch-manual' });
    open.push(manual);
    await manual.connect();
    await manual.subscribe({ topic: 'b', fromBeginning: true });
    manual.run({
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        for (const message of batch.messages) {
          if (!isRunning() || isStale()) break;
          await processMessage(message);
          resolveOffset(message.offset);
          await heartbeat();
        }
      },
    });
    await until(() => processed.length === 20, 'manual batch');
    await manual.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchOffsets({ groupId: 'batch-manual', topics: ['b'] });
    expect(offsets[0]?.partitions[0]?.offset).toBe('20');
    await admin.disconnect();
  });

  it('consumes partitions concurrently, keeping order within each', async () => {
    const kafka = setup(3);
    await produce(kafka, 'c', 300);
    let inFlight = 0;
    let peak = 0;
    const byPartition = new Map<number, number[]>();
    const consumer = kafka.consumer({ groupId: 'conc' });
    open.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: 'c', fromBeginning: true });
    consumer.run({
      partitionsConsumedConcurrently: 3, // Default: 1
      eachMessage: async ({ partition, message }) => {
        // This will be called up to 3 times concurrently
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setImmediate(r));
        byPartition.set(partition, [...(byPartition.get(partition) ?? []), Number(message.offset)]);
        inFlight--;
      },
    });
    await until(() => [...byPartition.values()].reduce((n, l) => n + l.length, 0) === 300, 'all 300');
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(3);
    for (const offsets of byPartition.values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  it('commits manually, with autoCommitInterval and autoCommitThreshold', async () => {
    const kafka = setup();
    await produce(kafka, 'topic-A', 10);
    const consumer = kafka.consumer({ groupId: 'manual' });
    open.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: 'topic-A', fromBeginning: true });
    let n = 0;
    consumer.run({
      autoCommit: false,
      eachMessage: async () => {
        n++;
      },
    });
    await until(() => n === 10, 'ten');
    await consumer.commitOffsets([{ topic: 'topic-A', partition: 0, offset: '1' }]);
    const admin = kafka.admin();
    await admin.connect();
    expect(
      (await admin.fetchOffsets({ groupId: 'manual', topics: ['topic-A'] }))[0]?.partitions[0]?.offset,
    ).toBe('1');
    await consumer.disconnect();
    // autoCommit false: disconnect does not commit what was processed.
    expect(
      (await admin.fetchOffsets({ groupId: 'manual', topics: ['topic-A'] }))[0]?.partitions[0]?.offset,
    ).toBe('1');

    const threshold = kafka.consumer({ groupId: 'threshold' });
    open.push(threshold);
    const commits: unknown[] = [];
    threshold.on(threshold.events.COMMIT_OFFSETS, (e) => commits.push(e.payload));
    await threshold.connect();
    await threshold.subscribe({ topic: 'topic-A', fromBeginning: true });
    let m = 0;
    threshold.run({
      autoCommitInterval: 5000,
      autoCommitThreshold: 4,
      eachMessage: async () => {
        m++;
      },
    });
    await until(() => m === 10, 'ten again');
    await until(() => commits.length >= 2, 'threshold commits');
    await threshold.disconnect();
    expect(
      (await admin.fetchOffsets({ groupId: 'threshold', topics: ['topic-A'] }))[0]?.partitions[0]?.offset,
    ).toBe('10');
    await admin.disconnect();
  });

  it('pauses and resumes as in the TooManyRequests example, and seeks', async () => {
    const kafka = setup();
    await produce(kafka, 'jobs', 5);
    class TooManyRequestsError extends Error {
      retryAfter = 0.02;
    }
    let calls = 0;
    const done: string[] = [];
    const sendToDependency = async (message: { offset: string }) => {
      calls++;
      if (calls === 2) throw new TooManyRequestsError('slow down');
      done.push(message.offset);
    };
    const consumer = kafka.consumer({ groupId: 'jobs', retry: { retries: 3, initialRetryTime: 5 } });
    open.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: 'jobs', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        try {
          await sendToDependency(message);
        } catch (e) {
          if (e instanceof TooManyRequestsError) {
            consumer.pause([{ topic }]);
            setTimeout(() => consumer.resume([{ topic }]), e.retryAfter * 1000);
          }
          throw e;
        }
      },
    });
    await until(() => done.length === 5, 'all jobs');
    expect(done).toEqual(['0', '1', '2', '3', '4']);
    expect(consumer.paused()).toEqual([]);
    await consumer.disconnect();

    // Seek: consumer#run need not be awaited.
    await produce(kafka, 'example', 10);
    const seen: string[] = [];
    const seeker = kafka.consumer({ groupId: 'seek' });
    open.push(seeker);
    await seeker.connect();
    await seeker.subscribe({ topic: 'example' });
    seeker.run({
      eachMessage: async ({ message }) => {
        seen.push(message.offset);
      },
    });
    seeker.seek({ topic: 'example', partition: 0, offset: 7 as unknown as string });
    await until(() => seen.length === 3, 'three after the seek');
    expect(seen).toEqual(['7', '8', '9']);
    seeker.seek({ topic: 'example', partition: 0, offset: '2' });
    await until(() => seen.length === 11, 'again from 2');
    expect(seen.slice(3)).toEqual(['2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('uses a custom partition assigner beside roundRobin, and describes the group', async () => {
    const kafka = setup(4);
    await produce(kafka, 't', 8);
    const { MemberAssignment, MemberMetadata } = AssignerProtocol;
    const MyPartitionAssigner = ({
      cluster,
    }: {
      cluster: { findTopicPartitionMetadata(t: string): { partitionId: number }[] };
    }) => ({
      name: 'MyPartitionAssigner',
      version: 1,
      async assign({ members, topics }: { members: { memberId: string }[]; topics: string[] }) {
        // Everything to the first member.
        const assignment: Record<string, number[]> = {};
        for (const topic of topics)
          assignment[topic] = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
        return members.map((m, i) => ({
          memberId: m.memberId,
          memberAssignment: MemberAssignment.encode({
            version: this.version,
            assignment: i === 0 ? assignment : {},
          }),
        }));
      },
      protocol({ topics }: { topics: string[] }) {
        return { name: this.name, metadata: MemberMetadata.encode({ version: this.version, topics }) };
      },
    });
    const { roundRobin } = PartitionAssigners;
    const consumer = kafka.consumer({
      groupId: 'my-group',
      partitionAssigners: [MyPartitionAssigner, roundRobin],
    });
    open.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: 't', fromBeginning: true });
    await consumer.run({ eachMessage: async () => undefined });
    const data = await consumer.describeGroup();
    expect(data).toMatchObject({
      errorCode: 0,
      groupId: 'my-group',
      protocol: 'MyPartitionAssigner',
      protocolType: 'consumer',
      state: 'Stable',
    });
    expect(data.members[0]?.memberAssignment).toBeInstanceOf(Buffer);
    expect(MemberAssignment.decode(data.members[0]?.memberAssignment as Buffer)?.assignment).toEqual({
      t: [0, 1, 2, 3],
    });
  });
});

describe('consumer groups', () => {
  it('rebalances 1 -> 3 -> 2 members: everything processed, order kept, no partition owned twice', async () => {
    const kafka = setup(6);
    const total = 3000;
    await produce(kafka, 'g', total);
    const owners = new Map<number, string>();
    const processed = new Map<number, Set<number>>();
    const violations: string[] = [];
    const make = (name: string) => {
      const c = kafka.consumer({ groupId: 'group', heartbeatInterval: 20 });
      open.push(c);
      let last = new Map<number, number>();
      c.on(c.events.GROUP_JOIN, () => {
        last = new Map();
      });
      const start = async () => {
        await c.connect();
        await c.subscribe({ topic: 'g', fromBeginning: true });
        await c.run({
          eachMessage: async ({ partition, message }) => {
            const owner = owners.get(partition);
            if (owner !== undefined && owner !== name)
              violations.push(`${partition} owned by ${owner} and ${name}`);
            owners.set(partition, name);
            const o = Number(message.offset);
            if ((last.get(partition) ?? -1) >= o)
              violations.push(`${name} went back on ${partition}: ${last.get(partition)} then ${o}`);
            last.set(partition, o);
            await new Promise((r) => setImmediate(r));
            const set = processed.get(partition) ?? new Set();
            set.add(o);
            processed.set(partition, set);
            owners.delete(partition);
          },
        });
      };
      return { c, start };
    };
    const count = () => [...processed.values()].reduce((n, s) => n + s.size, 0);
    const a = make('a');
    await a.start();
    await until(() => count() > 200, 'a started');
    const b = make('b');
    const c = make('c');
    await Promise.all([b.start(), c.start()]);
    await until(() => count() > 1200, 'three members working');
    const members = (await a.c.describeGroup()).members.length;
    expect(members).toBe(3);
    await c.c.disconnect();
    await until(() => count() === total, `all ${total} processed`, 30_000);
    expect((await a.c.describeGroup()).members.length).toBe(2);
    expect(violations).toEqual([]);
  });

  it('evicts a member whose handler stalls past rebalanceTimeout and moves its partitions', async () => {
    const kafka = setup(2);
    const cfg = { groupId: 'stall', sessionTimeout: 300, heartbeatInterval: 20, rebalanceTimeout: 300 };
    const stalled = consumer(kafka, cfg);
    const healthy = consumer(kafka, cfg);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const stalledSaw: number[] = [];
    const healthySaw: number[] = [];
    const stalledOwns = assignedTo(stalled, 's');
    const healthyOwns = assignedTo(healthy, 's');
    await stalled.connect();
    await stalled.subscribe({ topic: 's' });
    await stalled.run({
      eachMessage: async ({ partition }) => {
        stalledSaw.push(partition);
        await gate;
      },
    });
    await healthy.connect();
    await healthy.subscribe({ topic: 's' });
    await healthy.run({
      eachMessage: async ({ partition }) => {
        healthySaw.push(partition);
      },
    });
    await until(() => stalledOwns().length === 1 && healthyOwns().length === 1, 'split');
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 's',
      acks: 1,
      messages: [
        { value: 'p0', partition: 0 },
        { value: 'p1', partition: 1 },
      ],
    });
    await until(() => stalledSaw.length === 1, 'the stall');
    const stuck = stalledSaw[0] as number;
    // The healthy member takes the stalled member's partition and gets its message.
    await until(() => healthySaw.filter((p) => p === stuck).length >= 1, 'partition moved', 10_000);
    release();
    await producer.disconnect();
  });

  it('keeps extra members idle until a partition frees up; two groups consume independently', async () => {
    const kafka = setup(2);
    await produce(kafka, 'x', 20);
    const got = new Map<string, number>();
    const members = [0, 1, 2].map((i) => {
      const c = consumer(kafka, { groupId: 'idle', heartbeatInterval: 20 });
      return { c, name: `m${i}`, owns: assignedTo(c, 'x') };
    });
    for (const { c, name } of members) {
      await c.connect();
      await c.subscribe({ topic: 'x', fromBeginning: true });
      await c.run({
        eachMessage: async () => {
          got.set(name, (got.get(name) ?? 0) + 1);
        },
      });
    }
    await until(() => [...got.values()].reduce((a, b) => a + b, 0) === 20, 'twenty');
    // Each member learns its share when its own SyncGroup answer arrives, so
    // the last run() may resolve a moment before the others have theirs:
    // wait for all three to agree on the last generation's split, in which
    // one member is idle and the other two own one partition each.
    const split = () => members.map((m) => m.owns().length).sort();
    await until(
      () =>
        split().join() === '0,1,1' &&
        members
          .flatMap((m) => m.owns())
          .sort()
          .join() === '0,1',
      'one member idle, the other two one partition each',
    );
    const idleMember = members.find((m) => m.owns().length === 0) as (typeof members)[number];
    const seen = got.get(idleMember.name) ?? 0;
    const busy = members.find((m) => m.owns().length > 0) as (typeof members)[number];
    await busy.c.disconnect();
    await until(() => idleMember.owns().length === 1, 'idle member takes over');
    // It consumes the partition it took: new messages reach it.
    await produce(kafka, 'x', 20);
    await until(() => (got.get(idleMember.name) ?? 0) > seen, 'the new owner consumes');

    const other: string[] = [];
    const g2 = consumer(kafka, { groupId: 'other-group' });
    await g2.connect();
    await g2.subscribe({ topic: 'x', fromBeginning: true });
    await g2.run({
      eachMessage: async ({ message }) => {
        other.push(String(message.value));
      },
    });
    await until(() => other.length === 40, 'the other group sees all forty');
  });

  it('moves only what it must with cooperative-sticky', async () => {
    const kafka = setup(6);
    const sticky = () => {
      const c = consumer(kafka, {
        groupId: 'sticky',
        partitionAssigners: [PartitionAssigners.cooperativeSticky],
      });
      return { c, owns: assignedTo(c, 'st') };
    };
    const a = sticky();
    let rebalances = 0;
    await a.c.connect();
    await a.c.subscribe({ topic: 'st' });
    await a.c.run({ eachMessage: async () => undefined });
    expect(a.owns()).toEqual([0, 1, 2, 3, 4, 5]);
    a.c.on(a.c.events.REBALANCING, () => {
      rebalances++;
    });
    const b = sticky();
    await b.c.connect();
    await b.c.subscribe({ topic: 'st' });
    await b.c.run({ eachMessage: async () => undefined });
    await until(() => b.owns().length === 3 && a.owns().length === 3, 'three each');
    expect([...a.owns(), ...b.owns()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rebalances).toBeGreaterThan(0);
    // A third member: each of the first two gives up exactly one partition
    // and keeps the other two it had (an eager round-robin would reshuffle).
    const aBefore = a.owns();
    const bBefore = b.owns();
    const c = sticky();
    await c.c.connect();
    await c.c.subscribe({ topic: 'st' });
    await c.c.run({ eachMessage: async () => undefined });
    await until(() => a.owns().length === 2 && b.owns().length === 2 && c.owns().length === 2, 'two each');
    expect(a.owns().every((p) => aBefore.includes(p))).toBe(true);
    expect(b.owns().every((p) => bBefore.includes(p))).toBe(true);
    expect([...a.owns(), ...b.owns(), ...c.owns()].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('redelivers after a SIGKILL and never skips (at least once)', async () => {
    const kafka = setup(2);
    const total = 400;
    await produce(kafka, 'k', total);
    const dataDir = kafka.dataDir;
    const outFile = join(tempDir(), 'processed.txt');
    const child = `
      const { Kafka } = require(${JSON.stringify(join(root, 'dist', 'index.js'))});
      const fs = require('fs');
      (async () => {
        const kafka = new Kafka({ dataDir: ${JSON.stringify(dataDir)}, logLevel: 0 });
        const c = kafka.consumer({ groupId: 'crashy', autoCommitThreshold: 7 });
        await c.connect();
        await c.subscribe({ topic: 'k', fromBeginning: true });
        await c.run({ eachMessage: async ({ partition, message }) => {
          await new Promise((r) => setTimeout(r, 1));
          fs.appendFileSync(${JSON.stringify(outFile)}, partition + ':' + message.offset + '\\n');
        }});
      })();`;
    const processed = () => {
      try {
        return readFileSync(outFile, 'utf8').trim().split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    // Kill twice mid-way, then let a third run finish.
    for (let round = 0; round < 3; round++) {
      const p = spawn(process.execPath, ['-e', child], { stdio: 'ignore' });
      const target = round < 2 ? (round + 1) * 120 : total;
      await until(() => new Set(processed()).size >= target, `round ${round} progress`, 20_000);
      p.kill('SIGKILL');
      await new Promise((r) => p.on('exit', r));
    }
    const seen = new Set(processed());
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('k');
    await admin.disconnect();
    let expected = 0;
    for (const { partition, high } of offsets) {
      for (let o = 0; o < Number(high); o++)
        expect(seen.has(`${partition}:${o}`), `${partition}:${o}`).toBe(true);
      expected += Number(high);
    }
    expect(expected).toBe(total);
  });
});

describe('deserializers, dead letters, iterator and crashes', () => {
  it('deserializes lazily and sends what fails to the dead-letter topic with the raw bytes', async () => {
    const kafka = setup();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'users',
      messages: [
        { key: 'u1', value: '{"id":1}' },
        { key: 'u2', value: 'not json' },
        { key: 'u3', value: '{"id":3}' },
      ],
    });
    const ok: unknown[] = [];
    const dead: string[] = [];
    const c = consumer<string, { id: number }>(kafka, {
      groupId: 'des',
      deserializers: { key: Deserializers.string as never, value: Deserializers.json as never },
    });
    await c.connect();
    await c.subscribe({ topic: 'users', fromBeginning: true });
    await c.run({
      eachMessage: deadLetterQueue<string, { id: number }>(
        async ({ message }) => {
          ok.push({ key: message.key, value: message.value });
        },
        { producer, retries: 2, onDeadLetter: (e) => dead.push(e.name) },
      ),
    });
    await until(() => ok.length === 2 && dead.length === 1, 'two good and one dead');
    expect(ok).toEqual([
      { key: 'u1', value: { id: 1 } },
      { key: 'u3', value: { id: 3 } },
    ]);
    expect(dead).toEqual(['KafkaJSDeserializationError']);
    const dlq = consumer(kafka, { groupId: 'dlq-reader' });
    const parked: { value: string; headers: Record<string, string> }[] = [];
    await dlq.connect();
    await dlq.subscribe({ topic: 'users.dlq', fromBeginning: true });
    await dlq.run({
      eachMessage: async ({ message }) => {
        parked.push({
          value: String(message.value),
          headers: Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, String(v)])),
        });
      },
    });
    await until(() => parked.length === 1, 'the dead letter');
    expect(parked[0]?.value).toBe('not json');
    expect(parked[0]?.headers).toMatchObject({
      'x-dlq-original-topic': 'users',
      'x-dlq-original-offset': '1',
      'x-dlq-attempts': '2',
    });
    await producer.disconnect();
  });

  it('reports a deserialization failure with the raw bytes through the retry path', async () => {
    const kafka = setup();
    await produce(kafka, 'bad', 1);
    const errors: unknown[] = [];
    const c = consumer<Buffer, number>(kafka, {
      groupId: 'des-fail',
      retry: { retries: 1, initialRetryTime: 1, restartOnFailure: async () => false },
      deserializers: {
        value: () => {
          throw new Error('boom');
        },
      },
    });
    c.on(c.events.CRASH, (e) => errors.push((e.payload as { error: unknown }).error));
    await c.connect();
    await c.subscribe({ topic: 'bad', fromBeginning: true });
    await c.run({
      eachMessage: async ({ message }) => {
        void message.value;
      },
    });
    await until(() => errors.length === 1, 'crash');
    expect(errors[0]).toBeInstanceOf(KafkaJSDeserializationError);
    expect(String((errors[0] as KafkaJSDeserializationError).raw)).toBe('v0');
    // restartOnFailure said no: the consumer stopped and committed nothing of the failed message.
    const admin = kafka.admin();
    await admin.connect();
    expect(
      (await admin.fetchOffsets({ groupId: 'des-fail', topics: ['bad'] }))[0]?.partitions[0]?.offset,
    ).toBe('-1');
    await admin.disconnect();
  });

  it('iterates messages with for await, committing only what the loop consumed', async () => {
    const kafka = setup();
    await produce(kafka, 'it', 50);
    const c = consumer(kafka, { groupId: 'iter' });
    await c.connect();
    await c.subscribe({ topic: 'it', fromBeginning: true });
    const values: string[] = [];
    for await (const { message } of c) {
      values.push(String(message.value));
      if (values.length === 10) break;
    }
    expect(values).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
    const admin = kafka.admin();
    await admin.connect();
    const committed = Number(
      (await admin.fetchOffsets({ groupId: 'iter', topics: ['it'] }))[0]?.partitions[0]?.offset,
    );
    // The tenth message was consumed when the loop broke; nothing past it counts as processed.
    expect(committed).toBe(10);
    await admin.disconnect();
  });

  it('delivers a message produced in the same process promptly through the long-poll', async () => {
    const kafka = setup();
    const c = consumer(kafka, { groupId: 'latency', maxWaitTimeInMs: 60_000 });
    await c.connect();
    await c.subscribe({ topic: 'lat' });
    const got: string[] = [];
    await c.run({
      eachMessage: async ({ message }) => {
        got.push(String(message.value));
      },
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'lat', acks: 1, messages: [{ value: 'now' }] });
    // Not a timing assertion: with a one-minute maxWait, only the long-poll can deliver this.
    await until(() => got.length === 1, 'delivery', 10_000);
    await producer.disconnect();
  });
});

describe('stopping while a batch finishes', () => {
  it('commits a batch whose handler finished as the consumer disconnects', async () => {
    const kafka = setup(3);
    await produce(kafka, 'fin', 3000);
    const c = kafka.consumer({ groupId: 'fin' });
    await c.connect();
    await c.subscribe({ topic: 'fin', fromBeginning: true });
    let n = 0;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    await c.run({
      eachBatch: async ({ batch }) => {
        n += batch.messages.length;
        // Disconnect starts while this handler is still finishing.
        if (n >= 3000) resolveDone();
        await new Promise((r) => setImmediate(r));
      },
    });
    await done;
    await c.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    const [lag] = await admin.fetchLag({ groupId: 'fin', topics: ['fin'] });
    expect(lag?.totalLag).toBe('0');
    await admin.disconnect();
  });
});

describe('tutorial shapes', () => {
  it('takes consumer-level defaults, bare RegExps, topic arrays and manual commits from eachMessage', async () => {
    const kafka = setup();
    for (const t of ['orders', 'users', 'products', 'user.signup', 'user.login']) await produce(kafka, t, 2);
    const c = kafka.consumer({
      groupId: 'tut',
      autoCommit: true,
      autoCommitInterval: 5000,
      sessionTimeout: 30000,
      heartbeatInterval: 3000,
      maxBytesPerPartition: 1048576,
      maxWaitTimeInMs: 100,
      fromBeginning: true,
    });
    open.push(c);
    await c.connect();
    await c.subscribe({ topics: ['orders', 'users', 'products'] });
    await c.subscribe({ topics: /^user\..*/ });
    const seen = new Set<string>();
    await c.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        seen.add(topic);
        // biome-ignore lint/correctness/useParseIntRadix: the shape tutorials write, kept as written.
        await c.commitOffsets([{ topic, partition, offset: (parseInt(message.offset) + 1).toString() }]);
      },
    });
    await until(() => seen.size === 5, 'all five topics');
    // A topic created later that matches the RegExp is picked up.
    await produce(kafka, 'user.deleted', 1);
    await until(() => seen.has('user.deleted'), 'the new topic');
    const admin = kafka.admin();
    await admin.connect();
    const lag = await admin.fetchLag({ groupId: 'tut', topics: ['orders', 'user.deleted'] });
    expect(lag.map((l) => l.totalLag)).toEqual(['0', '0']);
    await admin.disconnect();
  });
});

describe('admin', () => {
  it('manages topics, offsets and groups, with the kafkajs shapes', async () => {
    const kafka = setup();
    const admin = kafka.admin();
    await admin.connect();
    expect(
      await admin.createTopics({
        topics: [
          {
            topic: 'a',
            numPartitions: 3,
            configEntries: [
              { name: 'retention.ms', value: '3600000' },
              { name: 'flush', value: 'always' },
            ],
          },
        ],
      }),
    ).toBe(true);
    expect(await admin.createTopics({ topics: [{ topic: 'a' }] })).toBe(false);
    expect(await admin.listTopics()).toEqual(['a']);
    await admin.createPartitions({ topicPartitions: [{ topic: 'a', count: 4 }] });
    const meta = await admin.fetchTopicMetadata({ topics: ['a'] });
    expect(meta.topics[0]?.partitions.map((p) => p.partitionId)).toEqual([0, 1, 2, 3]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'a',
      messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}`, partition: 0, timestamp: 1000 + i })),
    });
    await producer.disconnect();
    expect((await admin.fetchTopicOffsets('a'))[0]).toEqual({
      partition: 0,
      offset: '10',
      high: '10',
      low: '0',
    });
    expect((await admin.fetchTopicOffsetsByTimestamp('a', 1005))[0]).toEqual({ partition: 0, offset: '5' });
    await admin.setOffsets({ groupId: 'g', topic: 'a', partitions: [{ partition: 0, offset: '4' }] });
    expect((await admin.fetchOffsets({ groupId: 'g', topics: ['a'] }))[0]?.partitions[0]).toEqual({
      partition: 0,
      offset: '4',
      metadata: null,
    });
    const lag = await admin.fetchLag({ groupId: 'g' });
    expect(lag[0]?.partitions[0]).toEqual({ partition: 0, committed: '4', high: '10', low: '0', lag: '6' });
    await admin.resetOffsets({ groupId: 'g', topic: 'a', earliest: true });
    expect((await admin.fetchOffsets({ groupId: 'g', topics: ['a'] }))[0]?.partitions[0]?.offset).toBe('0');
    expect((await admin.listGroups()).groups).toEqual([{ groupId: 'g', protocolType: 'consumer' }]);
    expect((await admin.describeGroups(['g'])).groups[0]?.state).toBe('Empty');
    await admin.deleteTopicRecords({ topic: 'a', partitions: [{ partition: 0, offset: '3' }] });
    expect((await admin.fetchTopicOffsets('a'))[0]?.low).toBe('3');
    expect(await admin.deleteGroups(['g'])).toEqual([{ groupId: 'g', errorCode: 0 }]);
    expect((await admin.listGroups()).groups).toEqual([]);
    await admin.deleteTopics({ topics: ['a'] });
    expect(await admin.listTopics()).toEqual([]);
    await admin.disconnect();
  });

  it('keeps committed offsets across a restart of everything', async () => {
    const dataDir = tempDir();
    let kafka = new Kafka({ dataDir, logLevel: 0 });
    await produce(kafka, 'r', 10);
    let c = kafka.consumer({ groupId: 'restart' });
    await c.connect();
    await c.subscribe({ topic: 'r', fromBeginning: true });
    let n = 0;
    await c.run({
      eachMessage: async ({ message }) => {
        n++;
        if (message.offset === '5')
          await c.commitOffsets([{ topic: 'r', partition: 0, offset: '6', metadata: 'checkpoint' }]);
      },
    });
    await until(() => n === 10, 'ten');
    await c.disconnect();
    kafka = new Kafka({ dataDir, logLevel: 0 });
    await produce(kafka, 'r', 5);
    const admin = kafka.admin();
    await admin.connect();
    expect((await admin.fetchOffsets({ groupId: 'restart', topics: ['r'] }))[0]?.partitions[0]).toMatchObject(
      { offset: '10' },
    );
    await admin.setOffsets({ groupId: 'restart', topic: 'r', partitions: [{ partition: 0, offset: '12' }] });
    await admin.disconnect();
    c = kafka.consumer({ groupId: 'restart' });
    open.push(c);
    const after: string[] = [];
    await c.connect();
    await c.subscribe({ topic: 'r', fromBeginning: true });
    await c.run({
      eachMessage: async ({ message }) => {
        after.push(message.offset);
      },
    });
    await until(() => after.length === 3, 'resume from 12');
    expect(after).toEqual(['12', '13', '14']);
  });
});

describe('bad input gets a typed error; nothing committed or lost', () => {
  it('rejects each misuse with kafkajs errors', async () => {
    const kafka = setup(2);
    await produce(kafka, 't', 4);
    expect(() => kafka.consumer({ groupId: '' })).toThrow(KafkaJSNonRetriableError);
    const c = consumer(kafka, { groupId: 'bad' });
    await c.connect();
    await c.subscribe({ topic: 't', fromBeginning: true });
    expect(() => c.seek({ topic: 't', partition: 0, offset: '1' })).toThrow(
      /consumer#run must be called first/,
    );
    expect(() => c.pause([{ topic: 't' }])).toThrow(/consumer#run must be called first/);
    let n = 0;
    // The commit after a batch lands behind the next fetch: the baseline
    // below is taken once all four are committed.
    const landed = new Map<string, number>();
    c.on(c.events.COMMIT_OFFSETS, (e) => {
      for (const t of e.payload.topics)
        for (const p of t.partitions) landed.set(String(p.partition), Number(p.offset));
    });
    await c.run({
      eachMessage: async () => {
        n++;
      },
    });
    await until(() => n === 4 && [...landed.values()].reduce((a, b) => a + b, 0) === 4, 'four, committed');
    await expect(c.subscribe({ topic: 'u' })).rejects.toThrow(/while consumer is running/);
    expect(() => c.seek({ topic: 't', partition: 0, offset: '-1' })).toThrow(/negative/);
    await expect(c.commitOffsets([{ topic: 't', partition: 0, offset: '999' }])).rejects.toThrow(
      /high watermark/,
    );
    await expect(c.commitOffsets([{ topic: 't', partition: 7, offset: '1' }])).rejects.toThrow(KafkaJSError);
    expect(() => c.pause([{ topic: 't', partitions: [9] }])).toThrow(/not assigned/);
    c.pause([{ topic: 'not-subscribed' }]);
    expect(c.paused()).toEqual([]);
    await expect(c.run({ eachMessage: async () => undefined })).rejects.toThrow(/already running/);

    const admin = kafka.admin();
    await admin.connect();
    const offsetsBefore = await admin.fetchOffsets({ groupId: 'bad', topics: ['t'] });
    await expect(admin.deleteGroups(['bad'])).rejects.toBeInstanceOf(KafkaJSDeleteGroupsError);
    await expect(admin.resetOffsets({ groupId: 'bad', topic: 't', earliest: true })).rejects.toThrow(
      /no running instances/,
    );
    await expect(
      admin.setOffsets({ groupId: 'bad', topic: 't', partitions: [{ partition: 0, offset: '0' }] }),
    ).rejects.toThrow(/no running instances/);
    await expect(admin.deleteGroups(['never-existed'])).rejects.toBeInstanceOf(KafkaJSDeleteGroupsError);
    await expect(admin.fetchTopicOffsets('nope')).rejects.toThrow(/does not host/);
    expect(await admin.fetchOffsets({ groupId: 'bad', topics: ['t'] })).toEqual(offsetsBefore);
    await admin.disconnect();
  });
});
