// The client cases shared by the scripts that compare servers or clients
// over the Kafka protocol (broker-vs-kafka.mjs, remote.bench.mjs): the same
// code drives kafkajs 2.2.4 and ferrolog's remote client, which share
// kafkajs's API, and Kafka's own Java perf tools.
import { spawnSync } from 'node:child_process';
import { Kafka as KafkaJS, logLevel as kjsLogLevel } from 'kafkajs';
import { ensureKafkaJars } from '../../test/kafka/jars.mjs';
import { percentile } from './results.mjs';

export const makeKafkajs = (brokers) =>
  new KafkaJS({ clientId: 'bench-kafkajs', brokers, logLevel: kjsLogLevel.NOTHING });

/** Topics with `partitions` partitions, replication factor 1, created through kafkajs's admin on any target. */
export async function createTopics(brokers, topics, partitions) {
  const admin = makeKafkajs(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** 1000 keyed messages of `valueBytes` (keys spread them over partitions the same way in both clients). */
export function batchOf(valueBytes, size = 1000) {
  const value = Buffer.alloc(valueBytes, 'v');
  return Array.from({ length: size }, (_, i) => ({ key: `k${i}`, value }));
}

/**
 * Sends `batch` for `seconds` (or until `maxMessages`), `inFlight` sends
 * awaited together; returns the count, the rate and each send's p99 (ms).
 */
export async function produceBatches(producer, topic, { seconds, maxMessages, acks, batch, inFlight = 1 }) {
  let sent = 0;
  const lat = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  const lane = async () => {
    while (performance.now() < end && sent < maxMessages) {
      sent += batch.length;
      const t = performance.now();
      await producer.send({ topic, acks, messages: batch });
      lat.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return { sent, rate: sent / ((performance.now() - start) / 1000), p99ms: percentile(lat, 0.99) };
}

/** One-message sends, each awaited, for `seconds`: rate and p50/p99 latency (ms). */
export async function singleSends(producer, topic, { seconds, acks, valueBytes }) {
  const value = Buffer.alloc(valueBytes, 's');
  const lat = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    await producer.send({ topic, acks, messages: [{ value }] });
    lat.push(performance.now() - t);
  }
  return {
    rate: lat.length / ((performance.now() - start) / 1000),
    p50ms: percentile(lat, 0.5),
    p99ms: percentile(lat, 0.99),
  };
}

/** A group consumer (eachBatch) reads `total` messages from the beginning; the count must match. */
export async function groupConsume(kafka, topic, total, { timeoutMs = 60_000 } = {}) {
  const consumer = kafka.consumer({ groupId: `${topic}-g-${process.pid}-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let n = 0;
  const start = performance.now();
  let timer;
  try {
    await new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`consumed ${n} of ${total} in ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            n += batch.messages.length;
            if (n >= total) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
  }
  const rate = n / ((performance.now() - start) / 1000);
  await consumer.disconnect();
  if (n !== total) throw new Error(`consumed ${n} messages, produced ${total}`);
  return rate;
}

/**
 * The three kafkajs-API cases on fresh topics: 1000-message sends, then
 * awaited single sends, then a group consume of what the first wrote.
 * o: { seconds, singleSeconds, maxMessages, acks, valueBytes, inFlight }
 */
export async function clientCases(kafka, brokers, topic, partitions, o) {
  await createTopics(brokers, [topic, `${topic}-single`], partitions);
  const producer = kafka.producer();
  await producer.connect();
  const out = {};
  let sent = 0;
  try {
    const p = await produceBatches(producer, topic, { ...o, batch: batchOf(o.valueBytes) });
    sent = p.sent;
    out.produce = p.rate;
    out.produceSendP99ms = p.p99ms;
    const s = await singleSends(producer, `${topic}-single`, { ...o, seconds: o.singleSeconds });
    out.single = s.rate;
    out.singleP50ms = s.p50ms;
    out.singleP99ms = s.p99ms;
  } finally {
    await producer.disconnect();
  }
  out.consume = await groupConsume(kafka, topic, sent, { timeoutMs: Math.max(60_000, o.seconds * 10_000) });
  return out;
}

/** Runs one of Kafka's tool classes from the cached 4.1.1 jars and returns its stdout. */
export function runKafkaTool(mainClass, argv, timeoutMs = 180_000) {
  const r = spawnSync(
    'java',
    [
      '-Xmx512m',
      '-cp',
      ensureKafkaJars(),
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      mainClass,
      ...argv,
    ],
    { encoding: 'utf8', timeout: timeoutMs },
  );
  if (r.error || r.status !== 0)
    throw new Error(
      `${mainClass} failed: ${r.error?.message ?? ''}${(r.stderr || r.stdout || '').slice(-1500)}`,
    );
  return r.stdout;
}

/** "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency, a ms 50th, b ms 95th, c ms 99th, ..." */
export function parseProducerPerformance(stdout) {
  const m =
    /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/.exec(
      stdout,
    );
  if (!m) throw new Error(`cannot parse ProducerPerformance output: ${stdout.slice(-500)}`);
  return { records: Number(m[1]), rate: Number(m[2]), p50ms: Number(m[6]), p99ms: Number(m[8]) };
}

/** The CSV line after ConsumerPerformance's header: data.consumed.in.nMsg, nMsg.sec, ..., fetch.nMsg.sec. */
export function parseConsumerPerformance(stdout) {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const h = lines.findIndex((l) => l.includes('fetch.nMsg.sec'));
  const cols = h >= 0 && lines[h + 1] ? lines[h + 1].split(',').map((x) => x.trim()) : [];
  if (cols.length < 10) throw new Error(`cannot parse ConsumerPerformance output: ${stdout.slice(-500)}`);
  return { messages: Number(cols[4]), rate: Number(cols[5]), fetchRate: Number(cols[9]) };
}

/** Kafka's ProducerPerformance: `records` of `valueBytes`, unthrottled, Java producer defaults plus acks. */
export function producerPerformance(bootstrap, topic, { records, valueBytes, acks }) {
  const p = parseProducerPerformance(
    runKafkaTool('org.apache.kafka.tools.ProducerPerformance', [
      '--topic',
      topic,
      '--num-records',
      String(records),
      '--record-size',
      String(valueBytes),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${bootstrap}`,
      `acks=${acks === -1 ? 'all' : acks}`,
    ]),
  );
  if (p.records !== records) throw new Error(`ProducerPerformance sent ${p.records} of ${records}`);
  return p;
}

/** Kafka's ConsumerPerformance reading `records` in a new group. */
export function consumerPerformance(bootstrap, topic, records) {
  const c = parseConsumerPerformance(
    runKafkaTool('org.apache.kafka.tools.ConsumerPerformance', [
      '--bootstrap-server',
      bootstrap,
      '--topic',
      topic,
      '--messages',
      String(records),
      '--group',
      `${topic}-perf-${process.pid}-${Date.now()}`,
      '--timeout',
      '30000',
    ]),
  );
  if (c.messages !== records) throw new Error(`ConsumerPerformance read ${c.messages} of ${records}`);
  return c;
}
