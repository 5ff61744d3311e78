/**
 * Writes test/fixtures/legacy-offsets/: a data directory made by ferrolog
 * before the group coordinator moved to Rust, whose `__consumer_offsets`
 * holds the first (JSON) offsets format. Run once with that build
 * (`node test/coordinator/make-legacy-offsets-fixture.mjs`, from main at
 * 60adc32); the coordinator's migration test reads the result.
 *
 * What it holds, as `expected.json` records: group `billing` committed
 * through the kafkajs-API consumer (topic `orders`, 3 partitions), group
 * `audit` with offsets set by admin.setOffsets then some deleted with a
 * group tombstone and set again, group `gone` committed then deleted.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka } from '../../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, '..', 'fixtures', 'legacy-offsets');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const dataDir = join(out, 'data');

const kafka = new Kafka({ dataDir, logLevel: 0 });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] });
const producer = kafka.producer();
await producer.connect();
for (let p = 0; p < 3; p++) {
  await producer.send({
    topic: 'orders',
    messages: Array.from({ length: 5 + p }, (_, i) => ({ partition: p, value: `m${p}-${i}` })),
  });
}
await producer.disconnect();

const consumer = kafka.consumer({ groupId: 'billing' });
await consumer.connect();
await consumer.subscribe({ topics: ['orders'], fromBeginning: true });
let seen = 0;
const done = new Promise((res) => {
  consumer.run({
    eachMessage: async () => {
      seen += 1;
      if (seen === 5 + 6 + 7) res();
    },
  });
});
await done;
await consumer.disconnect();

await admin.setOffsets({ groupId: 'audit', topic: 'orders', partitions: [{ partition: 0, offset: '1' }] });
await admin.setOffsets({ groupId: 'gone', topic: 'orders', partitions: [{ partition: 1, offset: '2' }] });
await admin.deleteGroups(['gone']);
await admin.setOffsets({
  groupId: 'audit',
  topic: 'orders',
  partitions: [
    { partition: 0, offset: '3' },
    { partition: 2, offset: '4' },
  ],
});
const expected = {};
for (const groupId of ['billing', 'audit']) {
  const offsets = await admin.fetchOffsets({ groupId, topics: ['orders'] });
  expected[groupId] = offsets[0].partitions
    .filter((p) => p.offset !== '-1')
    .map((p) => ({ topic: 'orders', partition: p.partition, offset: Number(p.offset) }));
}
await admin.disconnect();
writeFileSync(join(out, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
console.log(JSON.stringify(expected));
