// Consumer throughput and end-to-end latency: `npm run bench:consumer`
// (node bench/consumer.bench.mjs [--quick] [--runs N] [--out DIR]).
// 100 B values, one and eight partitions; eachBatch (kafkajs' messages, and
// ferrolog's columnar batch.records), eachMessage (async and sync handlers) and the async iterator, each --runs times (default 3) over BENCH_MESSAGES (2 M),
// with the median, the min-max spread and the ratio to the Log API's read
// (Log.read + decodeMessages touching every value) of the same data in the
// same run. Latency: produce → eachMessage at a fixed rate. Results:
// bench/results/consumer.{json,md} (--quick: bench/results/quick/, not representative).
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMessages, encodeBatch, Kafka, Log } from 'ferrolog';
import {
  cliArgs,
  fmtNum,
  fmtRatio,
  fmtSummary,
  machineInfo,
  machineLine,
  NOT_REPRESENTATIVE,
  outputDir,
  ratioOf,
  summarize,
  writeResults,
} from './lib/results.mjs';

const args = cliArgs();
const quick = args.has('quick');
const N = args.num('messages', Number(process.env.BENCH_MESSAGES ?? (quick ? 200_000 : 2_000_000)));
const runs = args.num('runs', Number(process.env.BENCH_RUNS ?? (quick ? 1 : 3)));
const outDir = outputDir(args, quick);
const rows = [];
const results = [];
const machine = machineInfo();
process.stderr.write(`machine: ${machineLine(machine)}\n`);
if (quick) process.stderr.write(`${NOT_REPRESENTATIVE}\n`);

/** The reference: the Log API's read of every partition, decoding and touching every value. */
function logRead(log, partitions) {
  let bytes = 0;
  const start = performance.now();
  for (let p = 0; p < partitions; p++) {
    const hw = log.watermarks('t', p).highWatermark;
    let offset = 0;
    while (offset < hw) {
      const r = log.read('t', p, offset, 4 << 20);
      const msgs = decodeMessages(r.batches, offset);
      for (let i = 0; i < msgs.length; i++) bytes += msgs[i].value.length;
      offset = r.nextOffset;
    }
  }
  const elapsed = (performance.now() - start) / 1000;
  if (bytes !== N * 100) throw new Error(`Log.read: read ${bytes} bytes, expected ${N * 100}`);
  return N / elapsed;
}

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

// A new group per run: a group that already committed would resume at the end.
let groupNo = 0;
async function consume(dataDir, mode) {
  const kafka = new Kafka({ dataDir, logLevel: 0 });
  const consumer = kafka.consumer({ groupId: `bench-${mode}-${groupNo++}`, maxBytesPerPartition: 4 << 20 });
  await consumer.connect();
  await consumer.subscribe({ topic: 't', fromBeginning: true });
  let n = 0;
  let bytes = 0;
  // When the handler first gets records: the group join, the first fetch
  // and its decoding, all inside the timed region.
  let first = 0;
  const start = performance.now();
  await new Promise((resolve) => {
    if (mode === 'eachBatch') {
      consumer.run({
        eachBatch: async ({ batch }) => {
          first ||= performance.now();
          for (const m of batch.messages) bytes += m.value.length;
          n += batch.messages.length;
          if (n >= N) resolve();
        },
      });
    } else if (mode === 'eachBatch records') {
      // The columnar view: no object per record.
      consumer.run({
        eachBatch: async ({ batch }) => {
          first ||= performance.now();
          const r = batch.records;
          for (let i = 0; i < r.length; i++) bytes += r.valueLengths[i];
          n += r.length;
          if (n >= N) resolve();
        },
      });
    } else if (mode === 'eachMessage') {
      consumer.run({
        eachMessage: async ({ message }) => {
          first ||= performance.now();
          bytes += message.value.length;
          if (++n >= N) resolve();
        },
      });
    } else if (mode === 'eachMessage (sync handler)') {
      // A handler that returns nothing: the runner awaits only what can be awaited.
      consumer.run({
        eachMessage: ({ message }) => {
          first ||= performance.now();
          bytes += message.value.length;
          if (++n >= N) resolve();
        },
      });
    } else {
      (async () => {
        for await (const { message } of consumer) {
          first ||= performance.now();
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
  return { rate: N / elapsed, firstMs: first - start };
}

for (const partitions of [1, 8]) {
  const { dataDir, log } = prepare(partitions);
  const ref = summarize(Array.from({ length: runs }, () => logRead(log, partitions)));
  results.push({ case: 'reference: Log.read + decodeMessages', partitions, rate: ref });
  rows.push({
    case: 'reference: Log.read + decodeMessages',
    partitions,
    'msg/s (min-max)': fmtSummary(ref),
    '×Log.read': '',
    'run → first records, ms': '',
  });
  for (const mode of [
    'eachBatch',
    'eachBatch records',
    'eachMessage',
    'eachMessage (sync handler)',
    'async iterator',
  ]) {
    const rates = [];
    const firsts = [];
    for (let r = 0; r < runs; r++) {
      const o = await consume(dataDir, mode);
      rates.push(o.rate);
      firsts.push(o.firstMs);
    }
    const rate = summarize(rates);
    const firstMs = summarize(firsts);
    results.push({ case: mode, partitions, rate, samples: rates, firstMs });
    rows.push({
      case: mode,
      partitions,
      'msg/s (min-max)': fmtSummary(rate),
      '×Log.read': fmtRatio(ratioOf(rate, ref)),
      'run → first records, ms': `${firstMs.median.toFixed(1)} (${firstMs.min.toFixed(1)}-${firstMs.max.toFixed(1)})`,
    });
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
  const latency = { achievedRate: achieved, p50us: p(0.5), p99us: p(0.99), p999us: p(0.999) };
  results.push({ case: 'end-to-end latency', partitions: 1, latency });
  rows.push({
    case: `end-to-end latency at ${fmtNum(achieved)} msg/s (µs)`,
    partitions: 1,
    'msg/s (min-max)': `p50 ${fmtNum(latency.p50us)} · p99 ${fmtNum(latency.p99us)} · p999 ${fmtNum(latency.p999us)}`,
    '×Log.read': '',
    'run → first records, ms': '',
  });
  await consumer.disconnect();
  await producer.disconnect();
  rmSync(dataDir, { recursive: true, force: true });
}

if (quick) console.log(NOT_REPRESENTATIVE);
console.log(
  `median (min-max) of ${runs} run(s) over ${fmtNum(N)} messages of 100 B · ${machineLine(machine)}`,
);
console.table(rows);
const { jsonPath, mdPath } = writeResults(outDir, 'consumer', {
  title: 'In-process consumer (npm run bench:consumer)',
  command: `node bench/consumer.bench.mjs${quick ? ' --quick' : ''}`,
  quick,
  machine,
  options: { runs, messages: N, valueBytes: 100 },
  data: { results },
  sections: [['Consumer throughput and latency', rows]],
  notes: [
    'Every mode touches every value and must read exactly the bytes written; ×Log.read is the ratio to the Log API reading the same data in the same run. The latency row is one run.',
    '"run → first records" is the time from consumer.run to the handler\'s first call (the group join, the first fetch and its decoding), inside the timed region of each run.',
  ],
});
console.log(`results: ${jsonPath}, ${mdPath}`);
