/**
 * The coordinator's broker settings from JavaScript: Kafka's session
 * timeout bounds for clients of the broker (INVALID_SESSION_TIMEOUT below
 * group.min.session.timeout.ms 6000) while in-process members may use
 * shorter sessions; `groupCoordinator.initialRebalanceDelayMs` (Kafka's
 * group.initial.rebalance.delay.ms; ferrolog's default 0) and the
 * validation of `offsetsRetentionMinutes`. The offsets expiry itself and
 * dynamic members outliving a restart are tested with a manual clock in
 * crates/coordinator/tests/semantics.rs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka as KafkaJS, logLevel as kjsLogLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Consumer, Kafka } from '../ts';
import { tempDir, until } from './helpers';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

async function withTopic(kafka: Kafka, topic: string, partitions: number) {
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  return admin;
}

/** An in-process member that records the assignment of each GROUP_JOIN. */
async function member(kafka: Kafka, groupId: string, topic: string) {
  const joins: number[][] = [];
  const c: Consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 50 });
  c.on(c.events.GROUP_JOIN, (e) => joins.push([...(e.payload.memberAssignment[topic] ?? [])].sort()));
  cleanups.push(() => c.disconnect());
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({ eachMessage: async () => undefined });
  return joins;
}

describe('group coordinator settings', () => {
  it('clients of the broker get INVALID_SESSION_TIMEOUT outside 6 s to 30 min; in-process members may go lower', async () => {
    const kafka = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    const server = await kafka.listen({ port: 0 });
    cleanups.push(() => server.close());
    await withTopic(kafka, 't', 2);
    const kjs = new KafkaJS({
      clientId: 'short',
      brokers: [`${server.address.host}:${server.address.port}`],
      logLevel: kjsLogLevel.NOTHING,
      retry: { retries: 0 },
    });
    const tooShort = kjs.consumer({ groupId: 'bounds', sessionTimeout: 5999, heartbeatInterval: 100 });
    cleanups.push(() => tooShort.disconnect());
    await tooShort.connect();
    await tooShort.subscribe({ topic: 't' });
    const crashed = new Promise<unknown>((resolve) =>
      tooShort.on(tooShort.events.CRASH, (e) => resolve(e.payload.error)),
    );
    await tooShort.run({ eachMessage: async () => undefined });
    const error = (await crashed) as { type?: string };
    expect(error.type).toBe('INVALID_SESSION_TIMEOUT');

    // The same group accepts Kafka's minimum through the broker, and a
    // 300 ms session in process (no network between member and coordinator).
    const ok = kjs.consumer({ groupId: 'bounds-ok', sessionTimeout: 6000, heartbeatInterval: 100 });
    cleanups.push(() => ok.disconnect());
    let joined = false;
    ok.on(ok.events.GROUP_JOIN, () => {
      joined = true;
    });
    await ok.connect();
    await ok.subscribe({ topic: 't' });
    await ok.run({ eachMessage: async () => undefined });
    await until(() => joined, 'a 6000 ms session to join', 30_000);
    const local = kafka.consumer({ groupId: 'bounds-local', sessionTimeout: 300, heartbeatInterval: 50 });
    cleanups.push(() => local.disconnect());
    let localJoined = false;
    local.on(local.events.GROUP_JOIN, () => {
      localJoined = true;
    });
    await local.connect();
    await local.subscribe({ topic: 't' });
    await local.run({ eachMessage: async () => undefined });
    await until(() => localJoined, 'a 300 ms in-process session to join', 30_000);
  }, 60_000);

  it('initialRebalanceDelayMs lets members starting together form the first generation together', async () => {
    // With a delay, the second member's join, within it, is part of the
    // first rebalance: each member gets one assignment, never all four
    // partitions.
    const delayed = new Kafka({
      dataDir: tempDir(),
      logLevel: 0,
      groupCoordinator: { initialRebalanceDelayMs: 3000 },
    });
    await withTopic(delayed, 't', 4);
    const [a, b] = await Promise.all([member(delayed, 'g', 't'), member(delayed, 'g', 't')]);
    await until(() => a.length > 0 && b.length > 0, 'both members to join', 30_000);
    expect([a.length, b.length]).toEqual([1, 1]);
    expect([...a[0], ...b[0]].sort()).toEqual([0, 1, 2, 3]);

    // ferrolog's default (0): the first member's generation completes at
    // once, with every partition; the second member's join is a rebalance.
    const quick = new Kafka({ dataDir: tempDir(), logLevel: 0 });
    await withTopic(quick, 't', 4);
    const first = await member(quick, 'g', 't');
    await until(() => first.length > 0, 'the first member to join', 30_000);
    expect(first[0]).toEqual([0, 1, 2, 3]);
    const second = await member(quick, 'g', 't');
    await until(() => second.length > 0 && first.length > 1, 'the rebalance', 30_000);
    expect(second[0].length).toBe(2);
  }, 60_000);

  it('offsetsRetentionMinutes and initialRebalanceDelayMs are validated', () => {
    const dirs: string[] = [];
    const open = (groupCoordinator: Record<string, number>) => {
      const dataDir = join(tempDir(), 'data');
      dirs.push(dataDir);
      return new Kafka({ dataDir, logLevel: 0, groupCoordinator }).openLog();
    };
    expect(() => open({ offsetsRetentionMinutes: 0 })).toThrow(/offsetsRetentionMinutes/);
    expect(() => open({ offsetsRetentionMinutes: 1.5 })).toThrow(/offsetsRetentionMinutes/);
    expect(() => open({ initialRebalanceDelayMs: -1 })).toThrow(/initialRebalanceDelayMs/);
    // Refused before anything was opened: no directory made, nothing written.
    for (const d of dirs) expect(existsSync(d)).toBe(false);
    const log = open({ offsetsRetentionMinutes: 1440, initialRebalanceDelayMs: 0 });
    return log.close();
  });
});
