/**
 * One group coordinator for every member: a kafkajs 2.2.4 consumer through
 * the broker and an in-process ferrolog consumer share a group; kcat -G
 * (librdkafka's balanced consumer) joins groups through the broker; the
 * group and its offsets are visible to kafkajs' admin.
 */
import { spawn, spawnSync } from 'node:child_process';
import { Kafka as KafkaJS, logLevel as kjsLogLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Consumer, Kafka } from '../ts';
import { assignedTo, tempDir, until } from './helpers';

const KCAT = '/usr/bin/kcat';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

async function setup(partitions: number) {
  const dir = tempDir();
  const kafka = new Kafka({ dataDir: dir, logLevel: 0 });
  const server = await kafka.listen({ port: 0 });
  cleanups.push(() => server.close());
  const broker = `${server.address.host}:${server.address.port}`;
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 't', numPartitions: partitions }] });
  return { kafka, broker, admin };
}

async function produce(kafka: Kafka, n: number, partitions: number, from = 0) {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: 't',
    acks: 1,
    messages: Array.from({ length: n }, (_, i) => ({
      partition: (from + i) % partitions,
      value: `v${from + i}`,
    })),
  });
  await producer.disconnect();
}

describe('groups through the broker', () => {
  it('a kafkajs consumer and an in-process consumer share one group: each partition has one owner', async () => {
    const partitions = 6;
    const { kafka, broker, admin } = await setup(partitions);
    await produce(kafka, 60, partitions);

    // The in-process member (ferrolog's group client over the binding).
    const seenLocal: string[] = [];
    const local: Consumer = kafka.consumer({
      groupId: 'mixed',
      heartbeatInterval: 100,
      sessionTimeout: 10_000,
    });
    cleanups.push(() => local.disconnect());
    await local.connect();
    await local.subscribe({ topic: 't', fromBeginning: true });
    const ownedLocal = assignedTo(local, 't');
    await local.run({
      eachMessage: async ({ partition, message }) => {
        seenLocal.push(`${partition}:${message.offset}`);
      },
    });
    expect(ownedLocal()).toEqual([0, 1, 2, 3, 4, 5]);

    // The remote member: kafkajs 2.2.4 through the broker.
    const kjs = new KafkaJS({ clientId: 'kjs', brokers: [broker], logLevel: kjsLogLevel.NOTHING });
    const remote = kjs.consumer({ groupId: 'mixed', heartbeatInterval: 100, sessionTimeout: 10_000 });
    cleanups.push(() => remote.disconnect());
    const seenRemote: string[] = [];
    let ownedRemote: number[] = [];
    remote.on(remote.events.GROUP_JOIN, (e) => {
      ownedRemote = [...(e.payload.memberAssignment.t ?? [])].sort((a, b) => a - b);
    });
    await remote.connect();
    await remote.subscribe({ topic: 't', fromBeginning: true });
    await remote.run({
      eachMessage: async ({ partition, message }) => {
        seenRemote.push(`${partition}:${message.offset}`);
      },
    });
    await until(
      () => ownedRemote.length === 3 && ownedLocal().length === 3,
      'the two members split the partitions',
      30_000,
    );
    expect([...ownedLocal(), ...ownedRemote].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    const d = await admin.describeGroups(['mixed']);
    expect(d.groups[0]?.state).toBe('Stable');
    expect(d.groups[0]?.members.map((m) => m.clientId).sort()).toEqual(['kjs', kafka.clientId].sort());

    // New messages go to whichever member owns their partition, once.
    await produce(kafka, 60, partitions, 60);
    const all = () => new Set([...seenLocal, ...seenRemote]);
    await until(() => all().size === 120, 'every message processed', 30_000);
    for (const m of seenRemote) expect(ownedRemote).toContain(Number(m.split(':')[0]));

    // The remote member leaves; the in-process one takes everything back,
    // from the offsets the remote one committed through the broker.
    await remote.disconnect();
    await until(() => ownedLocal().length === 6, 'the in-process member owns all six again', 30_000);
    await produce(kafka, 12, partitions, 120);
    await until(() => all().size === 132, 'the rest processed', 30_000);
    await local.disconnect();
    const lag = await admin.fetchLag({ groupId: 'mixed', topics: ['t'] });
    expect(lag[0]?.totalLag).toBe('0');
  });

  it('kcat -G consumes as a balanced group member and commits through the broker', async () => {
    const partitions = 2;
    const { kafka, broker, admin } = await setup(partitions);
    await produce(kafka, 10, partitions);
    const child = spawn(
      KCAT,
      [
        '-b',
        broker,
        '-G',
        'kcat-group',
        '-o',
        'beginning',
        '-q',
        '-u',
        '-f',
        '%p:%o\n',
        '-X',
        'auto.commit.interval.ms=100',
        '-X',
        'session.timeout.ms=6000',
        't',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cleanups.push(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const lines = () => out.split('\n').filter((l) => l.length > 0);
    await until(() => lines().length >= 10, 'kcat -G read all ten', 30_000);
    expect(new Set(lines()).size).toBe(10);
    const described = await admin.describeGroups(['kcat-group']);
    expect(described.groups[0]?.state).toBe('Stable');
    expect(described.groups[0]?.members.length).toBe(1);
    // Its commits land in the coordinator (librdkafka commits every 100 ms).
    let committed = 0;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const offsets = await admin.fetchOffsets({ groupId: 'kcat-group', topics: ['t'] });
      committed = offsets[0]?.partitions.reduce((a, p) => a + Math.max(0, Number(p.offset)), 0) ?? 0;
      if (committed === 10) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(committed).toBe(10);
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    // Only available when kcat is installed (the broker tests need it anyway).
    expect(spawnSync(KCAT, ['-V']).status).toBe(0);
  });
});
