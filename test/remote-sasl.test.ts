/**
 * The remote transport authenticating to an Apache Kafka 4.1 cluster with
 * SASL: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (credentials created with
 * Kafka's own ConfigCommand), and a wrong password refused. SKIPPED, visibly,
 * when `java` is absent.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, KafkaJSError, logLevel } from '../ts';
import { tempDir } from './helpers';
import type { KafkaCluster } from './kafka/cluster.mjs';
import { startCluster, stopCluster } from './kafka/cluster.mjs';
import { javaAvailable, runKafkaClass } from './kafka/jars.mjs';

const HAVE_JAVA = javaAvailable();
if (!HAVE_JAVA) console.warn('remote-sasl.test.ts: `java` not found, so the SASL cases are SKIPPED');

const plain = (user: string, password: string, extra = ''): string =>
  `org.apache.kafka.common.security.plain.PlainLoginModule required username="${user}" password="${password}"${extra};`;

describe.skipIf(!HAVE_JAVA)('remote transport: SASL against Apache Kafka 4.1', () => {
  let cluster: KafkaCluster | null = null;

  beforeAll(async () => {
    cluster = await startCluster({
      nodes: 1,
      config: {
        'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:SASL_PLAINTEXT',
        'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
        'sasl.mechanism.inter.broker.protocol': 'PLAIN',
        'listener.name.plaintext.plain.sasl.jaas.config': plain(
          'admin',
          'admin-secret',
          ' user_admin="admin-secret" user_alice="alice-secret"',
        ),
        'listener.name.plaintext.scram-sha-256.sasl.jaas.config':
          'org.apache.kafka.common.security.scram.ScramLoginModule required;',
        'listener.name.plaintext.scram-sha-512.sasl.jaas.config':
          'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      },
    });
    const props = join(tempDir(), 'admin.properties');
    writeFileSync(
      props,
      `security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=${plain('admin', 'admin-secret')}\n`,
    );
    // One mechanism per request: Kafka refuses two changes to one user in one.
    for (const scram of [
      'SCRAM-SHA-256=[iterations=4096,password=bob-secret]',
      'SCRAM-SHA-512=[password=bob-secret]',
    ]) {
      const r = runKafkaClass('kafka.admin.ConfigCommand', [
        '--bootstrap-server',
        cluster.bootstrap,
        '--command-config',
        props,
        '--alter',
        '--add-config',
        scram,
        '--entity-type',
        'users',
        '--entity-name',
        'bob',
      ]);
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    }
  }, 180_000);

  afterAll(async () => {
    if (cluster !== null) await stopCluster(cluster);
  }, 60_000);

  const client = (mechanism: string, username: string, password: string): Kafka =>
    new Kafka({
      clientId: 'sasl',
      brokers: (cluster as KafkaCluster).bootstrap.split(','),
      sasl: { mechanism, username, password } as never,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    });

  for (const [mechanism, user, password] of [
    ['plain', 'alice', 'alice-secret'],
    ['scram-sha-256', 'bob', 'bob-secret'],
    ['scram-sha-512', 'bob', 'bob-secret'],
  ] as const) {
    it(`${mechanism}: authenticates, then produces and reads offsets`, async () => {
      const kafka = client(mechanism, user, password);
      const admin = kafka.admin();
      await admin.connect();
      const topic = `sasl-${mechanism}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ value: 'x' }, { value: 'y' }] });
      await producer.disconnect();
      expect((await admin.fetchTopicOffsets(topic))[0]?.high).toBe('2');
      await admin.disconnect();
    });

    it(`${mechanism}: a wrong password is refused`, async () => {
      const admin = client(mechanism, user, 'wrong').admin();
      await expect(admin.connect()).rejects.toBeInstanceOf(KafkaJSError);
      await expect(admin.connect()).rejects.toThrow(/auth/i);
    });
  }
});
