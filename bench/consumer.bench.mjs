// Consumer throughput and end-to-end latency: `npm run bench:consumer`.
// 100 B values, one and eight partitions; eachBatch (messages, and the
// columnar batch.records), eachMessage and the async iterator. Latency:
// produce → eachMessage at a fixed rate.
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBatch, Kafka, Log } from 'ferrolog';

const N = Number(process.env.BENCH_MESSAGES ?? 2_000_000);
const rows = [];

function prepare(partitions) {
  execSync('sync');
  const dataDir = mkdtempSync(join(tmpdir(), 'ferrolog-cbench-'));
  const log = Log.open(dataDir);
  log.createTopic('t', { partitions, config: { 'retention.ms': -1 } });
  const value = Buffer.alloc(100, 'v');
  const batch = encodeBatch(
    Array.from({ length: 1000 }, () => ({ key: null, value, timestamp: Date.now() })),
  );
  for (let i = 0; i < N / 1000; i++) log.append('t', i % partitions, batch);
  return { dataDir, log };
}

async function consume(dataDir, mode) {
  const kafka = new Kafka({ dataDir, logLevel: 0 });
  const consumer = kafka.consumer({ groupId: `bench-${mode}`, maxBytesPerPartition: 4 << 20 });
  await consumer.connect();
  await consumer.subscribe({ topic: 't', fromBeginning: true });
  let n = 0;
  let bytes = 0;
  const start = performance.now();
  await new Promise((resolve) => {
    if (mode === 'eachBatch') {
      consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) bytes += m.value.length;
          n += batch.messages.length;
          if (n >= N) resolve();
        },
      });
    } else if (mode === 'eachBatch records') {
      // The columnar view: no object per record.
      consumer.run({
        eachBatch: async ({ batch }) => {
          const r = batch.records;
          for (let i = 0; i < r.length; i++) bytes += r.valueLengths[i];
          n += r.length;
          if (n >= N) resolve();
        },
      });
    } else if (mode === 'eachMessage') {
      consumer.run({
        eachMessage: async ({ message }) => {
          bytes += message.value.length;
          if (++n >= N) resolve();
        },
      });
    } else {
      (async () => {
        for await (const { message } of consumer) {
          bytes += message.value.length;
          if (++n >= N) break;
        }
        resolve();
      })();
    }
  });
  const elapsed = (performance.now() - start) / 1000;
  await consumer.disconnect();
  if (bytes !== N * 100) throw new Error(`${mode}: read ${bytes} bytes, expected ${N * 100}`);
  return N / elapsed;
}

for (const partitions of [1, 8]) {
  const { dataDir, log } = prepare(partitions);
  for (const mode of ['eachBatch', 'eachBatch records', 'eachMessage', 'async iterator']) {
    const rate = await consume(dataDir, mode);
    rows.push({ case: mode, partitions, 'msg/s': Math.round(rate).toLocaleString('en-US') });
  }
  await log.close();
  rmSync(dataDir, { recursive: true, force: true });
}

// End-to-end latency at a fixed rate: 100 messages every millisecond.
{
  const dataDir = mkdtempSync(join(tmpdir(), 'ferrolog-lat-'));
  const kafka = new Kafka({ dataDir, logLevel: 0 });
  const producer = kafka.producer({ acks: 1 });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: 'lat' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'lat' });
  const seconds = Number(process.env.BENCH_SECONDS ?? 2);
  const total = seconds * 100_000;
  const latencies = new Float64Array(total);
  let received = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (received < total) latencies[received++] = performance.now() - message.value.readDoubleLE(0);
    },
  });
  const payload = () => {
    const b = Buffer.alloc(100);
    b.writeDoubleLE(performance.now(), 0);
    return b;
  };
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    // Keep to the schedule: catch up in 100-message steps when behind.
    const due = Math.min(total, Math.floor((performance.now() - start) * 100));
    if (due > sent) {
      const n = Math.min(100, due - sent);
      const messages = Array.from({ length: n }, () => ({ value: payload() }));
      producer.send({ topic: 'lat', messages });
      sent += n;
    }
    await new Promise((r) => setImmediate(r));
  }
  while (received < total) await new Promise((r) => setTimeout(r, 5));
  const achieved = total / ((performance.now() - start) / 1000);
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const p = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 1000;
  rows.push({
    case: `end-to-end latency at ${Math.round(achieved).toLocaleString('en-US')} msg/s (µs)`,
    partitions: 1,
    'msg/s': `p50 ${p(0.5).toFixed(0)} · p99 ${p(0.99).toFixed(0)} · p999 ${p(0.999).toFixed(0)}`,
  });
  await consumer.disconnect();
  await producer.disconnect();
  rmSync(dataDir, { recursive: true, force: true });
}

console.table(rows);
