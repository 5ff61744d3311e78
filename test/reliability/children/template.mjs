// Builds a data directory for the corruption cases: topic `t` (2 partitions,
// small segments so there are several, dense indexes), batches plain and
// gzip-compressed from an idempotent producer (so producer ids are stored),
// group `cg` with committed offsets (so `__consumer_offsets` has data), and
// files ferrolog does not own (`notes.txt`, `backup/old.bin`). `clean`
// disconnects and exits; `crashed` keeps producing after `ready` until it is
// SIGKILLed, leaving no clean-shutdown marker and stale checkpoints.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompressionTypes, Kafka } from '../../../dist/index.js';
import { makeValue, sleep } from './values.mjs';

const [dataDir, mode] = process.argv.slice(2);
mkdirSync(join(dataDir, 'backup'), { recursive: true });
writeFileSync(join(dataDir, 'notes.txt'), 'not ferrolog data\n');
writeFileSync(join(dataDir, 'backup', 'old.bin'), Buffer.alloc(3000, 7));
const kafka = new Kafka({ dataDir, logLevel: 0 });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  topics: [
    {
      topic: 't',
      numPartitions: 2,
      configEntries: [
        { name: 'segment.bytes', value: '8192' },
        { name: 'index.interval.bytes', value: '128' },
      ],
    },
  ],
});
const producer = kafka.producer({ idempotent: true });
await producer.connect();
let seq = 0;
async function sendSome() {
  const n = 1 + Math.floor(Math.random() * 8);
  const messages = [];
  for (let i = 0; i < n; i++) {
    const id = `m${seq++}`;
    messages.push({
      key: id,
      value: makeValue(id, 10 + Math.floor(Math.random() * 120)),
      partition: seq % 2,
    });
  }
  const compression = Math.random() < 0.3 ? CompressionTypes.GZIP : CompressionTypes.None;
  await producer.send({ topic: 't', acks: -1, compression, messages });
}
while (seq < 400) await sendSome();
await admin.setOffsets({
  groupId: 'cg',
  topic: 't',
  partitions: [
    { partition: 0, offset: '50' },
    { partition: 1, offset: '120' },
  ],
});
if (mode === 'crashed') {
  process.stdout.write('ready\n');
  for (;;) {
    await sendSome();
    await sleep(1);
  }
}
await producer.disconnect();
await admin.disconnect();
