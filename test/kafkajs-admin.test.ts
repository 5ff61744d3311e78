/**
 * kafkajs' admin surface in process (describeCluster, describeConfigs with
 * synonyms, alterConfigs, events, ACLs, reassignments, metadata shapes),
 * `producer.transaction`, typed `on` at run time, and connect waiting on a
 * data directory another process holds.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  AssignerProtocol,
  ConfigResourceTypes,
  ConfigSource,
  Kafka,
  KafkaJSAggregateError,
  KafkaJSAlterPartitionReassignmentsError,
  KafkaJSNonRetriableError,
  KafkaJSNotImplemented,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  LockedError,
  Log,
  ResourcePatternTypes,
} from '../ts';
import { tempDir, until } from './helpers';

const root = join(__dirname, '..');

describe('admin: kafkajs surface', () => {
  it('describes the in-process cluster as kafkajs shapes it', async () => {
    const dir = tempDir();
    const admin = new Kafka({ dataDir: dir }).admin();
    await admin.connect();
    const c = await admin.describeCluster();
    expect(Object.keys(c)).toEqual(['brokers', 'controller', 'clusterId']);
    expect(c.brokers).toEqual([{ nodeId: 0, host: 'localhost', port: 0 }]);
    expect(c.controller).toBe(0);
    expect(c.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Stable for a directory, as a cluster id is.
    const again = new Kafka({ dataDir: dir }).admin();
    await again.connect();
    expect((await again.describeCluster()).clusterId).toBe(c.clusterId);
    await again.disconnect();
    await admin.disconnect();
  });

  it('lists topics and fetches metadata in kafkajs shape; no topics means all', async () => {
    const admin = new Kafka({ dataDir: tempDir() }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'a', numPartitions: 2 }, { topic: 'b' }] });
    expect((await admin.listTopics()).sort()).toEqual(['a', 'b']);
    const all = await admin.fetchTopicMetadata();
    expect(all.topics.map((t) => t.name).sort()).toEqual(['a', 'b']);
    expect((await admin.fetchTopicMetadata({ topics: [] })).topics).toHaveLength(2);
    const a = await admin.fetchTopicMetadata({ topics: ['a'] });
    expect(a).toEqual({
      topics: [
        {
          name: 'a',
          partitions: [0, 1].map((partitionId) => ({
            partitionErrorCode: 0,
            partitionId,
            leader: 0,
            replicas: [0],
            isr: [0],
            offlineReplicas: [],
          })),
        },
      ],
    });
    await expect(admin.fetchTopicMetadata({ topics: [''] })).rejects.toThrow(KafkaJSNonRetriableError);
    const unknown = await admin.fetchTopicMetadata({ topics: ['nope'] }).catch((e) => e);
    expect(unknown).toBeInstanceOf(KafkaJSProtocolError);
    expect([unknown.type, unknown.retriable]).toEqual(['UNKNOWN_TOPIC_OR_PARTITION', true]);
    await admin.disconnect();
  });

  it('describes configs with sources and synonyms, and alters them as AlterConfigs does', async () => {
    const kafka = new Kafka({ dataDir: tempDir(), defaultTopicConfig: { 'segment.bytes': 1048576 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        {
          topic: 't',
          configEntries: [
            { name: 'retention.ms', value: '1000' },
            { name: 'cleanup.policy', value: 'delete' },
          ],
        },
      ],
    });
    const described = await admin.describeConfigs({
      includeSynonyms: true,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 't',
          configNames: ['retention.ms', 'segment.bytes', 'segment.ms'],
        },
      ],
    });
    expect(described.resources).toHaveLength(1);
    const r = described.resources[0];
    expect(r).toMatchObject({ errorCode: 0, resourceType: ConfigResourceTypes.TOPIC, resourceName: 't' });
    const byName = Object.fromEntries(r.configEntries.map((e) => [e.configName, e]));
    expect(Object.keys(byName).sort()).toEqual(['retention.ms', 'segment.bytes', 'segment.ms']);
    expect(Object.keys(byName['retention.ms'])).toEqual([
      'configName',
      'configValue',
      'readOnly',
      'isDefault',
      'configSource',
      'isSensitive',
      'configSynonyms',
    ]);
    expect(byName['retention.ms']).toMatchObject({
      configValue: '1000',
      isDefault: false,
      configSource: ConfigSource.TOPIC_CONFIG,
      configSynonyms: [
        { configName: 'retention.ms', configValue: '1000', configSource: ConfigSource.TOPIC_CONFIG },
        {
          configName: 'log.retention.ms',
          configValue: '604800000',
          configSource: ConfigSource.DEFAULT_CONFIG,
        },
      ],
    });
    expect(byName['segment.bytes']).toMatchObject({
      configValue: '1048576',
      configSource: ConfigSource.STATIC_BROKER_CONFIG,
      isDefault: false,
    });
    expect(byName['segment.ms']).toMatchObject({
      isDefault: true,
      configSource: ConfigSource.DEFAULT_CONFIG,
    });
    const plain = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 't' }],
    });
    expect(plain.resources[0]?.configEntries.every((e) => e.configSynonyms.length === 0)).toBe(true);
    expect(plain.resources[0]?.configEntries.length).toBeGreaterThan(5);
    const broker = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.BROKER, name: '0', configNames: ['log.segment.bytes'] }],
    });
    expect(broker.resources[0]?.configEntries).toEqual([
      expect.objectContaining({
        configName: 'log.segment.bytes',
        configValue: '1048576',
        configSource: ConfigSource.STATIC_BROKER_CONFIG,
      }),
    ]);

    // AlterConfigs replaces the overrides: retention.ms, not named, goes back to its default.
    const altered = await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 't',
          configEntries: [{ name: 'segment.ms', value: '60000' }],
        },
      ],
    });
    expect(altered).toEqual({
      resources: [
        { errorCode: 0, errorMessage: null, resourceType: ConfigResourceTypes.TOPIC, resourceName: 't' },
      ],
    });
    const config = Log.open(kafka.dataDir);
    const t = config.topics().find((d) => d.name === 't');
    expect(t?.config['segment.ms']).toBe('60000');
    expect(t?.config['retention.ms']).toBe('604800000');
    expect(t?.config['segment.bytes']).toBe('1048576');
    await config.close();
    // validateOnly changes nothing; an unknown name is Kafka's INVALID_CONFIG.
    await admin.alterConfigs({
      validateOnly: true,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 't', configEntries: [] }],
    });
    const after = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 't', configNames: ['segment.ms'] }],
    });
    expect(after.resources[0]?.configEntries[0]?.configValue).toBe('60000');
    const bad = await admin
      .alterConfigs({
        validateOnly: false,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: 't', configEntries: [{ name: 'no.such', value: '1' }] },
        ],
      })
      .catch((e) => e);
    expect([bad.type, bad.retriable]).toEqual(['INVALID_CONFIG', false]);
    await expect(admin.describeConfigs({ includeSynonyms: false, resources: [] })).rejects.toThrow(
      'Resources array cannot be empty',
    );
    await admin.disconnect();
  });

  it('keeps the ACLs of the data directory (the owner is not subject to them; broker-security.test.ts has the enforcement)', async () => {
    const admin = new Kafka({ dataDir: tempDir() }).admin();
    await admin.connect();
    const filter = {
      resourceType: AclResourceTypes.ANY,
      resourcePatternType: ResourcePatternTypes.ANY,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    };
    const acl = {
      resourceType: AclResourceTypes.TOPIC,
      resourceName: 't',
      resourcePatternType: ResourcePatternTypes.LITERAL,
      principal: 'User:bob',
      host: '*',
      operation: AclOperationTypes.READ,
      permissionType: AclPermissionTypes.ALLOW,
    };
    expect(await admin.describeAcls(filter)).toEqual({ throttleTime: 0, errorCode: 0, resources: [] });
    expect(await admin.createAcls({ acl: [acl] })).toBe(true);
    const { principal, host, operation, permissionType, ...resource } = acl;
    expect((await admin.describeAcls(filter)).resources).toEqual([
      { ...resource, acls: [{ principal, host, operation, permissionType }] },
    ]);
    const removed = await admin.deleteAcls({ filters: [filter] });
    expect(removed.filterResponses[0]?.matchingAcls).toEqual([
      { errorCode: 0, errorMessage: undefined, ...acl },
    ]);
    expect((await admin.describeAcls(filter)).resources).toEqual([]);
    await expect(admin.createAcls({ acl: [] })).rejects.toThrow('Empty ACL array');
    await admin.disconnect();
  });

  it('keeps partitions on node 0 and reports no reassignments', async () => {
    const admin = new Kafka({ dataDir: tempDir() }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2 }] });
    await admin.alterPartitionReassignments({
      topics: [{ topic: 't', partitionAssignment: [{ partition: 1, replicas: [0] }] }],
    });
    // As kafkajs: partition failures come in a KafkaJSAggregateError, one error each.
    const e = await admin
      .alterPartitionReassignments({
        topics: [{ topic: 't', partitionAssignment: [{ partition: 0, replicas: [1, 2] }] }],
      })
      .catch((x: KafkaJSAggregateError) => x);
    expect(e).toBeInstanceOf(KafkaJSAggregateError);
    expect((e as KafkaJSAggregateError).errors[0]).toBeInstanceOf(KafkaJSAlterPartitionReassignmentsError);
    expect(await admin.listPartitionReassignments({ topics: [{ topic: 't', partitions: [0] }] })).toEqual({
      topics: [],
    });
    await admin.disconnect();
  });

  it('describes groups with kafkajs encoded member assignments', async () => {
    const kafka = new Kafka({ dataDir: tempDir() });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2 }] });
    const consumer = kafka.consumer({ groupId: 'g' });
    await consumer.connect();
    await consumer.subscribe({ topics: ['t'] });
    await consumer.run({ eachMessage: async () => {} });
    const { groups } = await admin.describeGroups(['g']);
    const member = groups[0]?.members[0];
    expect(member?.memberAssignment).toBeInstanceOf(Buffer);
    expect(member?.memberMetadata).toBeInstanceOf(Buffer);
    expect(AssignerProtocol.MemberAssignment.decode(member?.memberAssignment as Buffer)?.assignment).toEqual({
      t: [0, 1],
    });
    expect(groups[0]?.state).toBe('Stable');
    await consumer.disconnect();
    await admin.disconnect();
  });

  it('emits admin events with kafkajs names and refuses unknown ones', async () => {
    const admin = new Kafka({ dataDir: tempDir() }).admin();
    const seen: string[] = [];
    admin.on(admin.events.CONNECT, (e) => seen.push(`${e.type}:${e.payload}`));
    const remove = admin.on(admin.events.DISCONNECT, (e) => seen.push(e.type));
    expect(() => admin.on('admin.nope' as never, () => {})).toThrow(
      'Event name should be one of admin.events.CONNECT, admin.events.DISCONNECT, admin.events.REQUEST, admin.events.REQUEST_TIMEOUT, admin.events.REQUEST_QUEUE_SIZE',
    );
    await admin.connect();
    await admin.disconnect();
    remove();
    await admin.connect();
    await admin.disconnect();
    expect(seen).toEqual(['admin.connect:null', 'admin.disconnect', 'admin.connect:null']);
  });
});

describe('producer.transaction', () => {
  it('exists and rejects with KafkaJSNotImplemented', async () => {
    const producer = new Kafka({ dataDir: tempDir() }).producer();
    expect(typeof producer.transaction).toBe('function');
    const e = await producer.transaction().catch((err) => err);
    expect(e).toBeInstanceOf(KafkaJSNotImplemented);
    expect([e.name, e.retriable]).toEqual(['KafkaJSNotImplemented', false]);
  });
});

describe('connect while another process holds the data directory', () => {
  /** A child process that opens `dir` and holds it until killed; `pid` rewrites the pid it records. */
  async function holder(dir: string, pid?: number) {
    const script = `
      const { Log } = require(${JSON.stringify(join(root, 'dist', 'index.js'))});
      Log.open(${JSON.stringify(dir)});
      ${pid === undefined ? '' : `require('fs').writeFileSync(${JSON.stringify(join(dir, '.lock'))}, 'pid ${pid}');`}
      console.log('holding');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    await until(() => out.includes('holding'), 'the child to hold the directory');
    return child;
  }

  it('waits per retry while the holder is alive, then connects', async () => {
    const dir = tempDir();
    const child = await holder(dir);
    try {
      expect(() => Log.open(dir)).toThrow(LockedError);
      const kafka = new Kafka({
        dataDir: dir,
        retry: { retries: 1000, initialRetryTime: 10, maxRetryTime: 20 },
      });
      const producer = kafka.producer();
      // The first attempt runs inside connect() and meets the lock; the retries wait for the holder.
      const connected = producer.connect();
      let settled = false;
      void connected.finally(() => {
        settled = true;
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(settled).toBe(false);
      child.kill('SIGKILL');
      await connected;
      await producer.send({ topic: 't', messages: [{ value: 'after the holder left' }] });
      await producer.disconnect();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('gives up after the retries with a message that says what to do', async () => {
    const dir = tempDir();
    const child = await holder(dir);
    try {
      const kafka = new Kafka({ dataDir: dir, retry: { retries: 2, initialRetryTime: 5, maxRetryTime: 10 } });
      const e = await kafka
        .admin()
        .connect()
        .catch((err) => err);
      expect(e).toBeInstanceOf(KafkaJSNumberOfRetriesExceeded);
      expect(e.cause).toBeInstanceOf(LockedError);
      expect(e.message).toContain(`pid ${child.pid}`);
      expect(e.message).toContain('`brokers`');
      expect(e.message).toContain('`readOnly: true`');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('fails at once when the holder is not a process it can wait for', async () => {
    const dir = tempDir();
    // A pid above Linux's pid_max: no such process here, as with a holder in another container.
    const child = await holder(dir, 4194305);
    try {
      const consumer = new Kafka({ dataDir: dir, retry: { retries: 1000, initialRetryTime: 1000 } }).consumer(
        {
          groupId: 'g',
        },
      );
      const e = await consumer.connect().catch((err) => err);
      expect(e).toBeInstanceOf(LockedError);
      expect(e.retriable).toBe(false);
      expect(e.message).toContain('pid 4194305');
      expect(e.message).toContain('`brokers`');
      expect(e.message).toContain('`readOnly: true`');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
