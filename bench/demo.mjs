// `npm start`: the main job on the embedded default. Creates the data
// directory (./ferrolog-data or --data-dir), creates topic `orders` with 3
// partitions, produces 1 million keyed messages through the producer,
// consumes them with a 3-member consumer group, and prints the throughput
// of each phase, the partitions with their offsets, and the group's
// committed offsets and lag. Exits non-zero if anything does not add up.
import { Kafka } from 'ferrolog';

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const dataDir = flag('data-dir', process.env.FERROLOG_DATA_DIR ?? './ferrolog-data');
const total = Number(flag('messages', '1000000'));
const topic = 'orders';
const groupId = 'orders-demo';
const tty = process.stdout.isTTY === true;

function progress(label, done) {
  if (!tty) return;
  const pct = Math.min(100, Math.floor((done / total) * 100));
  const bar = '#'.repeat(Math.floor(pct / 4)).padEnd(25, '.');
  process.stdout.write(`\r  ${label} [${bar}] ${pct}%`);
}

function rate(n, seconds) {
  return `${Math.round(n / seconds).toLocaleString('en-US')} msg/s (${(seconds * 1000).toFixed(0)} ms)`;
}

const kafka = new Kafka({ clientId: 'ferrolog-demo', dataDir, logLevel: 1 });
const admin = kafka.admin();
await admin.connect();
// A fresh run: drop what an earlier run left.
if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic] });
if ((await admin.listGroups()).groups.some((g) => g.groupId === groupId)) await admin.deleteGroups([groupId]);
await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
console.log(
  `ferrolog demo: ${total.toLocaleString('en-US')} messages, topic "${topic}" (3 partitions), data in ${dataDir}`,
);

// Produce: arrays of 1000 keyed messages, acks 1 (in the page cache).
const producer = kafka.producer({ acks: 1 });
await producer.connect();
const value = Buffer.alloc(100, 'o');
const started = performance.now();
for (let sent = 0; sent < total; ) {
  const n = Math.min(1000, total - sent);
  const messages = new Array(n);
  for (let i = 0; i < n; i++) messages[i] = { key: `customer-${(sent + i) % 10_000}`, value };
  await producer.send({ topic, messages });
  sent += n;
  if (sent % 50_000 === 0) progress('produce', sent);
}
await producer.disconnect();
const produceSeconds = (performance.now() - started) / 1000;
if (tty) process.stdout.write('\n');
console.log(`  produced  ${rate(total, produceSeconds)}`);

// Consume with a 3-member group.
let consumed = 0;
let bytes = 0;
const consumers = [0, 1, 2].map(() => kafka.consumer({ groupId }));
const consumeStarted = performance.now();
let resolveDone;
const done = new Promise((r) => {
  resolveDone = r;
});
const perMember = [0, 0, 0];
await Promise.all(
  consumers.map(async (c, i) => {
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) bytes += m.value.length;
        consumed += batch.messages.length;
        perMember[i] += batch.messages.length;
        if (consumed % 50_000 < batch.messages.length) progress('consume', consumed);
        if (consumed >= total) resolveDone();
      },
    });
  }),
);
await done;
const consumeSeconds = (performance.now() - consumeStarted) / 1000;
await Promise.all(consumers.map((c) => c.disconnect()));
if (tty) process.stdout.write('\n');
console.log(
  `  consumed  ${rate(total, consumeSeconds)} by 3 members (${perMember.map((n) => n.toLocaleString('en-US')).join(' / ')})`,
);

const offsets = await admin.fetchTopicOffsets(topic);
const [lag] = await admin.fetchLag({ groupId, topics: [topic] });
await admin.disconnect();
console.log('\npartitions');
console.table(
  offsets.map((o) => ({
    partition: o.partition,
    low: Number(o.low),
    high: Number(o.high),
    messages: Number(o.high) - Number(o.low),
  })),
);
console.log(`group "${groupId}": committed offsets and lag`);
console.table(
  lag.partitions.map((p) => ({
    partition: p.partition,
    committed: Number(p.committed),
    high: Number(p.high),
    lag: Number(p.lag),
  })),
);
console.log(`total lag ${lag.totalLag}`);

const stored = offsets.reduce((n, o) => n + Number(o.high), 0);
const committed = lag.partitions.reduce((n, p) => n + Number(p.committed), 0);
const problems = [];
if (stored !== total) problems.push(`the topic holds ${stored} messages, not ${total}`);
if (consumed !== total) problems.push(`the group consumed ${consumed} messages, not ${total}`);
if (bytes !== total * 100) problems.push(`the group read ${bytes} value bytes, not ${total * 100}`);
if (committed !== total || lag.totalLag !== '0') problems.push(`committed ${committed}, lag ${lag.totalLag}`);
if (problems.length > 0) {
  console.error(`demo failed: ${problems.join('; ')}`);
  process.exit(1);
}
console.log('ok: every message produced, consumed once by the group, and committed');
