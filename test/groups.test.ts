/**
 * The Rust group coordinator through the binding: Kafka's fencing of
 * commits, and a ferrolog consumer sharing a group with a member that
 * speaks the raw protocol (as a kafkajs or Java client through the broker
 * does: JoinGroup, SyncGroup, Heartbeat with kafkajs' RoundRobinAssigner
 * metadata).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AssignerProtocol, type Consumer, Kafka } from '../ts';
import type { GroupCalls } from '../ts/group/types';
import { groupCalls, Log } from '../ts/log';
import { assignedTo, tempDir, until } from './helpers';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

function openCalls(dataDir: string): GroupCalls {
  const log = Log.open(dataDir);
  cleanup.push(() => log.close());
  return log[groupCalls]();
}

const subscription = (topics: string[]) => AssignerProtocol.MemberMetadata.encode({ version: 1, topics });

async function joinRaw(calls: GroupCalls, groupId: string, sessionTimeout: number, topics = ['t']) {
  const base = {
    groupId,
    protocolType: 'consumer',
    protocols: [{ name: 'RoundRobinAssigner', metadata: subscription(topics) }],
    sessionTimeout,
    rebalanceTimeout: 5000,
    clientId: 'raw',
    requireKnownMemberId: true,
  };
  const first = await calls.join({ ...base, memberId: '' });
  expect(first.errorCode).toBe(79); // MEMBER_ID_REQUIRED, then join with it
  return { base, memberId: first.memberId };
}

describe('group coordinator through the binding', () => {
  it('refuses an evicted member’s late commit and a stale generation, as Kafka does', async () => {
    const dataDir = tempDir();
    const log = Log.open(dataDir);
    log.createTopic('t', { partitions: 2 });
    await log.close();
    const calls = openCalls(dataDir);
    const { base, memberId } = await joinRaw(calls, 'fenced', 200);
    const joined = await calls.join({ ...base, memberId });
    expect(joined.errorCode).toBe(0);
    expect(joined.leader).toBe(memberId);
    const synced = await calls.sync({
      groupId: 'fenced',
      generationId: joined.generationId,
      memberId,
      assignments: [
        {
          memberId,
          assignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { t: [0, 1] } }),
        },
      ],
    });
    expect(synced.errorCode).toBe(0);
    const commit = (generationId: number, member: string) =>
      calls.commit({
        groupId: 'fenced',
        generationId,
        memberId: member,
        offsets: [{ topic: 't', partition: 0, offset: 3 }],
      });
    expect((await commit(joined.generationId, memberId)).partitions[0]?.errorCode).toBe(0);
    expect((await commit(joined.generationId + 1, memberId)).errorCode).toBe(22); // ILLEGAL_GENERATION
    // No heartbeats: the session (200 ms) expires and the member is removed.
    let state = '';
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const [d] = await calls.describe(['fenced']);
      state = d?.state ?? '';
      if (state === 'Empty') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(state).toBe('Empty');
    expect((await commit(joined.generationId, memberId)).errorCode).toBe(25); // UNKNOWN_MEMBER_ID
    expect(await calls.heartbeat({ groupId: 'fenced', generationId: joined.generationId, memberId })).toBe(
      25,
    );
    // Only the accepted commit is there.
    const [offset] = await calls.fetchOffsets('fenced', [{ topic: 't', partitions: [0] }]);
    expect(offset?.offset).toBe(3);
    // The group has no members: a commit outside group management is accepted now.
    expect((await commit(-1, '')).errorCode).toBe(0);
  });

  it('shares a group between a ferrolog consumer and a raw-protocol member', async () => {
    const dataDir = tempDir();
    const kafka = new Kafka({ dataDir, defaultNumPartitions: 4, logLevel: 0 });
    const admin = kafka.admin();
    await admin.connect();
    cleanup.push(() => admin.disconnect());
    await admin.createTopics({ topics: [{ topic: 't', numPartitions: 4 }] });
    const consumer: Consumer = kafka.consumer({
      groupId: 'mixed',
      heartbeatInterval: 50,
      sessionTimeout: 5000,
    });
    cleanup.push(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topic: 't' });
    const owned = assignedTo(consumer, 't');
    await consumer.run({ eachMessage: async () => undefined });
    expect(owned()).toEqual([0, 1, 2, 3]);

    // Another member arrives, speaking the protocol itself.
    const calls = openCalls(dataDir);
    const { base, memberId } = await joinRaw(calls, 'mixed', 5000);
    const joined = await calls.join({ ...base, memberId });
    expect(joined.errorCode).toBe(0);
    // The ferrolog consumer was the leader and stays it: it assigned.
    expect(joined.leader).not.toBe(memberId);
    const synced = await calls.sync({
      groupId: 'mixed',
      generationId: joined.generationId,
      memberId,
      assignments: [],
    });
    expect(synced.errorCode).toBe(0);
    const mine = AssignerProtocol.MemberAssignment.decode(synced.assignment)?.assignment.t ?? [];
    expect(mine.length).toBe(2);
    await until(() => owned().length === 2, 'the consumer gives up two partitions');
    expect([...owned(), ...mine].sort()).toEqual([0, 1, 2, 3]);
    const described = await admin.describeGroups(['mixed']);
    expect(described.groups[0]?.state).toBe('Stable');
    expect(described.groups[0]?.members.length).toBe(2);

    // It leaves; the consumer gets everything back.
    const left = await calls.leave('mixed', [{ memberId }]);
    expect(left.members[0]?.errorCode).toBe(0);
    await until(() => owned().length === 4, 'the consumer takes the partitions back');
  });
});
