/**
 * One admin, three targets: the same kafkajs admin calls, result shapes and
 * errors in process, against ferrolog's broker and against an Apache Kafka
 * cluster (the run's shared one, test/kafka/shared.mjs). Only the `Kafka`
 * config differs; the `Admin` is the same class over another transport.
 *
 * Differences Kafka itself has, and the test allows:
 * - node ids, hosts and ports (in process: node 0 at localhost:0; a cluster id
 *   derived from the data directory);
 * - ACLs: in process the owner manages the directory's ACLs; a broker without
 *   an authorizer (the test cluster) answers SECURITY_DISABLED;
 * - partition reassignment: in process only node 0 is a valid replica set;
 *   ferrolog's broker does not offer the API, so the call rejects with the
 *   typed UNSUPPORTED_VERSION error Kafka's protocol has for that.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  type Admin,
  AssignerProtocol,
  ConfigResourceTypes,
  ConfigSource,
  type Kafka,
  KafkaJSAggregateError,
  KafkaJSAlterPartitionReassignmentsError,
  KafkaJSDeleteGroupsError,
  KafkaJSDeleteTopicRecordsError,
  KafkaJSNonRetriableError,
  KafkaJSProtocolError,
  ResourcePatternTypes,
} from '../ts';
import { until } from './helpers';
import { threeTargets } from './targets';

const targets = threeTargets('admin-targets');

let n = 0;
const unique = (p: string): string => `${p}-${process.pid}-${n++}`;

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** Polls an async check (bounded): for what a cluster's brokers learn after the call returns. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Three records on partition 0, 10 s apart, the last 10 s ago. */
async function produceThree(kafka: Kafka, topic: string): Promise<number[]> {
  const now = Date.now();
  const stamps = [now - 30_000, now - 20_000, now - 10_000];
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: stamps.map((t, i) => ({ value: `v${i}`, partition: 0, timestamp: String(t) })),
  });
  await producer.disconnect();
  return stamps;
}

for (const target of targets) {
  describe.skipIf(!target.available)(`one admin: ${target.name}`, () => {
    beforeAll(() => target.setup(), 180_000);
    afterAll(() => target.teardown(), 60_000);

    it('creates topics (kafkajs validation, already-exists), lists them and describes their metadata', async () => {
      await withAdmin(target.kafka(), async (admin) => {
        const a = unique('adm-a');
        const b = unique('adm-b');
        // kafkajs' argument checks, with its messages, before anything is sent.
        for (const [bad, message] of [
          [undefined, 'Invalid topics array undefined'],
          [[{ topic: 1 }], 'Invalid topics array, the topic names have to be a valid string'],
          [
            [{ topic: a }, { topic: a }],
            'Invalid topics array, it cannot have multiple entries for the same topic',
          ],
          [[{ topic: a, configEntries: {} }], `Invalid configEntries for topic "${a}", must be an array`],
          [
            [{ topic: a, configEntries: [{ name: 'retention.ms' }] }],
            `Invalid configEntries for topic "${a}". Entry 0 must have a valid "value" property`,
          ],
        ] as const) {
          const e = await rejection(admin.createTopics({ topics: bad as never }));
          expect(e).toBeInstanceOf(KafkaJSNonRetriableError);
          expect(e.message).toBe(message);
        }
        expect(await admin.listTopics()).not.toContain(a);

        expect(await admin.createTopics({ topics: [{ topic: a, numPartitions: 2 }] })).toBe(true);
        // Already there: false, and the other topic of the call is still created.
        expect(
          await admin.createTopics({
            topics: [
              { topic: a, numPartitions: 2 },
              { topic: b, numPartitions: 1 },
            ],
          }),
        ).toBe(false);
        // A call that answered TOPIC_ALREADY_EXISTS returns without waiting for
        // the other topic's leader (as kafkajs's does): a Kafka broker may
        // list it a moment later.
        await eventually(async () => {
          const names = await admin.listTopics();
          return names.includes(a) && names.includes(b);
        }, `${a} and ${b} listed`);
        const listed = await admin.listTopics();
        expect(listed).toEqual(expect.arrayContaining([a, b]));
        // Internal topics are not listed.
        expect(listed).not.toContain('__consumer_offsets');

        const { topics } = await admin.fetchTopicMetadata({ topics: [a] });
        expect(topics.map((t) => t.name)).toEqual([a]);
        const parts = topics[0]?.partitions ?? [];
        expect(parts.map((p) => p.partitionId)).toEqual([0, 1]);
        for (const p of parts) {
          expect(Object.keys(p).sort()).toEqual(
            ['isr', 'leader', 'offlineReplicas', 'partitionErrorCode', 'partitionId', 'replicas'].sort(),
          );
          expect(p.partitionErrorCode).toBe(0);
          expect(p.replicas).toEqual([p.leader]);
          expect(p.isr).toEqual([p.leader]);
          expect(p.offlineReplicas).toEqual([]);
        }
        // No topics: every non-internal topic.
        const all = await admin.fetchTopicMetadata();
        expect(all.topics.map((t) => t.name)).toEqual(expect.arrayContaining([a, b]));

        const missing = await rejection(admin.fetchTopicMetadata({ topics: [unique('adm-missing')] }));
        expect(missing).toBeInstanceOf(KafkaJSProtocolError);
        expect((missing as KafkaJSProtocolError).type).toBe('UNKNOWN_TOPIC_OR_PARTITION');
      });
    });

    it('creates partitions (more only), then deletes topics', async () => {
      await withAdmin(target.kafka(), async (admin) => {
        const t = unique('adm-parts');
        await admin.createTopics({ topics: [{ topic: t, numPartitions: 1 }] });
        await expect(admin.createPartitions({ topicPartitions: [] })).rejects.toThrow(
          'Empty topic partitions array',
        );
        expect(await admin.createPartitions({ topicPartitions: [{ topic: t, count: 3 }] })).toBe(true);
        const { topics } = await admin.fetchTopicMetadata({ topics: [t] });
        expect(topics[0]?.partitions.map((p) => p.partitionId)).toEqual([0, 1, 2]);
        const fewer = await rejection(admin.createPartitions({ topicPartitions: [{ topic: t, count: 2 }] }));
        expect(fewer).toBeInstanceOf(KafkaJSProtocolError);
        expect((fewer as KafkaJSProtocolError).type).toBe('INVALID_PARTITIONS');

        await admin.deleteTopics({ topics: [t] });
        // Kafka's brokers learn of the deletion from the controller a moment later.
        await eventually(async () => !(await admin.listTopics()).includes(t), 'the topic to go');
        const gone = await rejection(admin.deleteTopics({ topics: [t] }));
        expect(gone).toBeInstanceOf(KafkaJSProtocolError);
        expect((gone as KafkaJSProtocolError).type).toBe('UNKNOWN_TOPIC_OR_PARTITION');
      });
    });

    it('describes and alters topic configs; describes the cluster', async () => {
      await withAdmin(target.kafka(), async (admin) => {
        const t = unique('adm-cfg');
        await admin.createTopics({
          topics: [
            { topic: t, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '123456' }] },
          ],
        });
        const describe = async () =>
          (
            await admin.describeConfigs({
              includeSynonyms: false,
              resources: [{ type: ConfigResourceTypes.TOPIC, name: t, configNames: ['retention.ms'] }],
            })
          ).resources;
        const [r] = await describe();
        expect(r).toMatchObject({ errorCode: 0, resourceType: ConfigResourceTypes.TOPIC, resourceName: t });
        expect(r?.configEntries).toEqual([
          expect.objectContaining({
            configName: 'retention.ms',
            configValue: '123456',
            isDefault: false,
            configSource: ConfigSource.TOPIC_CONFIG,
            isSensitive: false,
          }),
        ]);
        expect(
          await admin.alterConfigs({
            validateOnly: false,
            resources: [
              {
                type: ConfigResourceTypes.TOPIC,
                name: t,
                configEntries: [{ name: 'retention.ms', value: '654321' }],
              },
            ],
          }),
        ).toEqual({
          resources: [
            { errorCode: 0, errorMessage: null, resourceType: ConfigResourceTypes.TOPIC, resourceName: t },
          ],
        });
        expect((await describe())[0]?.configEntries[0]?.configValue).toBe('654321');
        await expect(admin.describeConfigs({ includeSynonyms: false, resources: [] })).rejects.toThrow(
          'Resources array cannot be empty',
        );
        const missing = await rejection(
          admin.describeConfigs({
            includeSynonyms: false,
            resources: [{ type: ConfigResourceTypes.TOPIC, name: unique('adm-nocfg') }],
          }),
        );
        expect((missing as KafkaJSProtocolError).type).toBe('UNKNOWN_TOPIC_OR_PARTITION');

        const c = await admin.describeCluster();
        expect(Object.keys(c)).toEqual(['brokers', 'controller', 'clusterId']);
        expect(c.brokers.length).toBeGreaterThan(0);
        for (const b of c.brokers) expect(Object.keys(b)).toEqual(['nodeId', 'host', 'port']);
        expect(typeof c.clusterId).toBe('string');
        expect(c.clusterId.length).toBeGreaterThan(0);
        // A controller is known on every target (KRaft brokers name one of themselves).
        expect(c.controller === null || c.brokers.some((b) => b.nodeId === c.controller)).toBe(true);
        if (target.kind === 'local') expect(c.brokers).toEqual([{ nodeId: 0, host: 'localhost', port: 0 }]);
      });
    });

    it('fetches topic offsets (by timestamp too) and deletes records', async () => {
      const kafka = target.kafka();
      await withAdmin(kafka, async (admin) => {
        const t = unique('adm-off');
        await admin.createTopics({ topics: [{ topic: t, numPartitions: 2 }] });
        const stamps = await produceThree(kafka, t);
        expect(await admin.fetchTopicOffsets(t)).toEqual([
          { partition: 0, offset: '3', high: '3', low: '0' },
          { partition: 1, offset: '0', high: '0', low: '0' },
        ]);
        expect(await admin.fetchTopicOffsetsByTimestamp(t, stamps[1])).toEqual([
          { partition: 0, offset: '1' },
          { partition: 1, offset: '0' },
        ]);
        // After every record, or no timestamp: the high watermark.
        expect(await admin.fetchTopicOffsetsByTimestamp(t, Date.now() + 60_000)).toEqual([
          { partition: 0, offset: '3' },
          { partition: 1, offset: '0' },
        ]);
        expect(await admin.fetchTopicOffsetsByTimestamp(t)).toEqual([
          { partition: 0, offset: '3' },
          { partition: 1, offset: '0' },
        ]);
        await expect(admin.fetchTopicOffsets('')).rejects.toThrow(KafkaJSNonRetriableError);

        await admin.deleteTopicRecords({ topic: t, partitions: [{ partition: 0, offset: '2' }] });
        expect((await admin.fetchTopicOffsets(t))[0]).toEqual({
          partition: 0,
          offset: '3',
          high: '3',
          low: '2',
        });
        const noLeader = await rejection(
          admin.deleteTopicRecords({ topic: t, partitions: [{ partition: 7, offset: '1' }] }),
        );
        expect(noLeader).toBeInstanceOf(KafkaJSDeleteTopicRecordsError);
        expect((noLeader as KafkaJSDeleteTopicRecordsError).partitions.map((p) => p.partition)).toEqual([7]);
        await expect(admin.deleteTopicRecords({ topic: t, partitions: [] })).rejects.toThrow(
          'Invalid partitions',
        );
      });
    });

    it('sets, resets and fetches group offsets; reports lag', async () => {
      const kafka = target.kafka();
      await withAdmin(kafka, async (admin) => {
        const t = unique('adm-grp');
        const g = unique('adm-g');
        await admin.createTopics({ topics: [{ topic: t, numPartitions: 2 }] });
        await produceThree(kafka, t);
        await expect(admin.setOffsets({ groupId: '', topic: t, partitions: [] })).rejects.toThrow(
          'Invalid groupId ',
        );
        await admin.setOffsets({ groupId: g, topic: t, partitions: [{ partition: 0, offset: '1' }] });
        expect(await admin.fetchOffsets({ groupId: g, topics: [t] })).toEqual([
          {
            topic: t,
            partitions: [
              { partition: 0, offset: '1', metadata: null },
              { partition: 1, offset: '-1', metadata: null },
            ],
          },
        ]);
        // No topics: the partitions the group has offsets for.
        expect(await admin.fetchOffsets({ groupId: g })).toEqual([
          { topic: t, partitions: [{ partition: 0, offset: '1', metadata: null }] },
        ]);
        expect(await admin.fetchLag({ groupId: g, topics: [t] })).toEqual([
          {
            topic: t,
            partitions: [
              { partition: 0, committed: '1', high: '3', low: '0', lag: '2' },
              { partition: 1, committed: '-1', high: '0', low: '0', lag: '0' },
            ],
            totalLag: '2',
          },
        ]);
        await admin.resetOffsets({ groupId: g, topic: t, earliest: true });
        expect(
          (await admin.fetchOffsets({ groupId: g, topics: [t] }))[0]?.partitions.map((p) => p.offset),
        ).toEqual(['0', '0']);
        await admin.resetOffsets({ groupId: g, topic: t });
        expect(
          (await admin.fetchOffsets({ groupId: g, topics: [t] }))[0]?.partitions.map((p) => p.offset),
        ).toEqual(['3', '0']);
        expect((await admin.listGroups()).groups).toContainEqual({
          groupId: g,
          protocolType: expect.any(String),
        });
      });
    });

    it('describes a live group; refuses to set its offsets or delete it (kafkajs errors); deletes it once empty', async () => {
      const kafka = target.kafka();
      await withAdmin(kafka, async (admin) => {
        const t = unique('adm-live');
        const g = unique('adm-live-g');
        await admin.createTopics({ topics: [{ topic: t, numPartitions: 2 }] });
        const consumer = kafka.consumer({ groupId: g, sessionTimeout: 10_000, heartbeatInterval: 500 });
        await consumer.connect();
        await consumer.subscribe({ topics: [t], fromBeginning: true });
        let joined = false;
        consumer.on(consumer.events.GROUP_JOIN, () => {
          joined = true;
        });
        await consumer.run({ eachMessage: async () => {} });
        try {
          await until(() => joined, 'the consumer to join', 60_000);
          const { groups } = await admin.describeGroups([g]);
          expect(groups).toHaveLength(1);
          const d = groups[0];
          expect(d).toMatchObject({ groupId: g, errorCode: 0, state: 'Stable', protocolType: 'consumer' });
          expect(d?.members).toHaveLength(1);
          const m = d?.members[0];
          expect(Object.keys(m ?? {}).sort()).toEqual(
            ['clientHost', 'clientId', 'memberAssignment', 'memberId', 'memberMetadata'].sort(),
          );
          expect(m?.clientId).toBe('admin-targets');
          expect(Buffer.isBuffer(m?.memberAssignment)).toBe(true);
          expect(AssignerProtocol.MemberAssignment.decode(m?.memberAssignment as Buffer)?.assignment).toEqual(
            {
              [t]: [0, 1],
            },
          );

          const set = await rejection(
            admin.setOffsets({ groupId: g, topic: t, partitions: [{ partition: 0, offset: '0' }] }),
          );
          expect(set).toBeInstanceOf(KafkaJSNonRetriableError);
          expect(set.message).toBe(
            'The consumer group must have no running instances, current state: Stable',
          );

          const del = await rejection(admin.deleteGroups([g]));
          expect(del).toBeInstanceOf(KafkaJSDeleteGroupsError);
          expect(del.message).toBe('Error in DeleteGroups');
          const failed = (del as KafkaJSDeleteGroupsError).groups;
          expect(failed.map((f) => [f.groupId, f.errorCode])).toEqual([[g, 68]]);
          expect((failed[0]?.error as KafkaJSProtocolError).type).toBe('NON_EMPTY_GROUP');
        } finally {
          await consumer.disconnect();
        }
        expect(await admin.deleteGroups([g])).toEqual([{ groupId: g, errorCode: 0 }]);
        expect((await admin.listGroups()).groups.map((x) => x.groupId)).not.toContain(g);
      });
    });

    it('manages ACLs where the target has them', async () => {
      await withAdmin(target.kafka(), async (admin) => {
        const t = unique('adm-acl');
        const acl = {
          resourceType: AclResourceTypes.TOPIC,
          resourceName: t,
          resourcePatternType: ResourcePatternTypes.LITERAL,
          principal: 'User:alice',
          host: '*',
          operation: AclOperationTypes.READ,
          permissionType: AclPermissionTypes.ALLOW,
        };
        await expect(admin.createAcls({ acl: [] })).rejects.toThrow('Empty ACL array');
        if (target.kind === 'kafka') {
          // The test cluster runs without an authorizer: Kafka says so.
          const e = await rejection(admin.createAcls({ acl: [acl] }));
          expect((e as KafkaJSProtocolError).type).toBe('SECURITY_DISABLED');
          return;
        }
        expect(await admin.createAcls({ acl: [acl] })).toBe(true);
        const described = await admin.describeAcls({
          resourceType: AclResourceTypes.TOPIC,
          resourceName: t,
          resourcePatternType: ResourcePatternTypes.LITERAL,
          operation: AclOperationTypes.ANY,
          permissionType: AclPermissionTypes.ANY,
        });
        expect(described.resources).toEqual([
          {
            resourceType: AclResourceTypes.TOPIC,
            resourceName: t,
            resourcePatternType: ResourcePatternTypes.LITERAL,
            acls: [
              {
                principal: 'User:alice',
                host: '*',
                operation: AclOperationTypes.READ,
                permissionType: AclPermissionTypes.ALLOW,
              },
            ],
          },
        ]);
        const deleted = await admin.deleteAcls({ filters: [acl] });
        expect(deleted.filterResponses[0]?.matchingAcls).toHaveLength(1);
      });
    });

    it('reassigns partitions where the target can', async () => {
      await withAdmin(target.kafka(), async (admin) => {
        const t = unique('adm-move');
        await admin.createTopics({ topics: [{ topic: t, numPartitions: 1 }] });
        await expect(
          admin.alterPartitionReassignments({
            topics: [{ topic: t, partitionAssignment: [{ partition: -1, replicas: [0] }] }],
          }),
        ).rejects.toThrow(`Invalid partitions index: -1 for topic: ${t}`);
        const leader = (await admin.fetchTopicMetadata({ topics: [t] })).topics[0]?.partitions[0]
          ?.leader as number;
        const same = admin.alterPartitionReassignments({
          topics: [{ topic: t, partitionAssignment: [{ partition: 0, replicas: [leader] }] }],
        });
        if (target.kind === 'broker') {
          const e = await rejection(same);
          expect(e).toBeInstanceOf(KafkaJSProtocolError);
          expect((e as KafkaJSProtocolError).type).toBe('UNSUPPORTED_VERSION');
          return;
        }
        await same;
        // Its replicas are where they were: nothing is being moved.
        expect(await admin.listPartitionReassignments({ topics: [{ topic: t, partitions: [0] }] })).toEqual({
          topics: [],
        });
        const bad = await rejection(
          admin.alterPartitionReassignments({
            topics: [{ topic: t, partitionAssignment: [{ partition: 0, replicas: [leader + 100] }] }],
          }),
        );
        expect(bad).toBeInstanceOf(KafkaJSAggregateError);
        const [one] = (bad as KafkaJSAggregateError).errors;
        expect(one).toBeInstanceOf(KafkaJSAlterPartitionReassignmentsError);
        expect([
          (one as KafkaJSAlterPartitionReassignmentsError).topic,
          (one as KafkaJSAlterPartitionReassignmentsError).partition,
        ]).toEqual([t, 0]);
      });
    });
  });
}
