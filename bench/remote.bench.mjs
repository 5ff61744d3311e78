// ferrolog's remote client vs kafkajs 2.2.4 against the same Apache Kafka 4.1
// cluster (one KRaft node on 127.0.0.1, started here from the Maven jars):
// `node bench/remote.bench.mjs` after `npm run build`.
//
// Cases (100-byte values, one topic of PARTITIONS partitions, acks=1):
//  - produce: sends of 1000 messages, SENDS_IN_FLIGHT awaited together;
//  - awaited single sends: one message per send, each awaited;
//  - consume: a group consumer (eachBatch) reads back everything produced.
// Each case runs RUNS times; the table shows the median and the min-max spread.
import { Kafka as KafkaJS, logLevel as kjsLogLevel } from 'kafkajs';
import { Kafka } from '../dist/index.js';
import { startCluster, stopCluster } from '../test/kafka/cluster.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PARTITIONS = 3;
const SENDS_IN_FLIGHT = 4;
const value = Buffer.alloc(100, 'v');
const batch = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}`, value }));

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const fmt = (x) => Math.round(x).toLocaleString('en-US');
  return `${fmt(s[Math.floor(s.length / 2)])} (${fmt(s[0])}-${fmt(s[s.length - 1])})`;
}

async function produceBatches(producer, topic) {
  let sent = 0;
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  const lane = async () => {
    while (performance.now() < end) {
      await producer.send({ topic, acks: 1, messages: batch });
      sent += batch.length;
    }
  };
  await Promise.all(Array.from({ length: SENDS_IN_FLIGHT }, lane));
  return { sent, rate: sent / ((performance.now() - start) / 1000) };
}

async function singleSends(producer, topic) {
  let sent = 0;
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  while (performance.now() < end) {
    await producer.send({ topic, acks: 1, messages: [{ value }] });
    sent++;
  }
  return sent / ((performance.now() - start) / 1000);
}

async function groupConsume(kafka, topic, total) {
  const consumer = kafka.consumer({ groupId: `bench-${topic}-${Math.random()}`, maxBytes: 50 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let n = 0;
  const start = performance.now();
  await new Promise((resolve) => {
    consumer.run({
      eachBatch: async ({ batch: b }) => {
        n += b.messages.length;
        if (n >= total) resolve();
      },
    });
  });
  const rate = n / ((performance.now() - start) / 1000);
  await consumer.disconnect();
  return rate;
}

const cluster = await startCluster({ nodes: 1 });
const brokers = cluster.bootstrap.split(',');
const rows = [];
try {
  const contestants = {
    'ferrolog remote': () => new Kafka({ clientId: 'bench', brokers, logLevel: 0 }),
    'kafkajs 2.2.4': () => new KafkaJS({ clientId: 'bench', brokers, logLevel: kjsLogLevel.NOTHING }),
  };
  const results = {};
  for (let run = 0; run < RUNS; run++) {
    for (const [name, make] of Object.entries(contestants)) {
      const kafka = make();
      const admin = kafka.admin();
      await admin.connect();
      const topic = `bench-${name.split(' ')[0]}-${run}`;
      await admin.createTopics({
        topics: [
          { topic, numPartitions: PARTITIONS },
          { topic: `${topic}-single`, numPartitions: 1 },
        ],
        waitForLeaders: true,
      });
      const producer = kafka.producer();
      await producer.connect();
      if (results[name] === undefined) results[name] = { produce: [], single: [], consume: [] };
      const r = results[name];
      const p = await produceBatches(producer, topic);
      process.stderr.write(`  ${name}: produced ${p.sent}\n`);
      r.produce.push(p.rate);
      r.single.push(await singleSends(producer, `${topic}-single`));
      process.stderr.write(`  ${name}: single sends done\n`);
      await producer.disconnect();
      await admin.disconnect();
      r.consume.push(await groupConsume(kafka, topic, p.sent));
      process.stderr.write(`run ${run + 1}/${RUNS} ${name} done\n`);
    }
  }
  for (const [name, r] of Object.entries(results)) {
    rows.push({
      client: name,
      'produce msg/s (1000-msg sends)': stats(r.produce),
      'awaited single sends/s': stats(r.single),
      'consume msg/s': stats(r.consume),
    });
  }
  console.table(rows);
  console.log(
    `median (min-max) of ${RUNS} runs of ${SECONDS}s each; 100 B values, ${PARTITIONS} partitions, acks=1, one Kafka 4.1.1 node on this machine.`,
  );
} finally {
  await stopCluster(cluster);
}
