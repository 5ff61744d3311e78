// Producer throughput: `npm run bench:producer` (node bench/producer.bench.mjs [--quick] [--runs N] [--seconds S] [--out DIR]).
// 100 B values; one and eight partitions; acks 1 and -1; compression
// none, lz4 and zstd. Each case runs --runs times (default 3) for --seconds
// (default 1, or BENCH_SECONDS) after a short warm-up, on a fresh directory,
// and reads back the message count it claims to have sent. Each row shows
// the median with the min-max spread and the ratio to the Log API's append
// of pre-encoded 1000-record batches on the same partitions and durability,
// measured in the same run. Results: bench/results/producer.{json,md}
// (--quick: bench/results/quick/, not representative).
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBatch, Kafka, Log } from 'ferrolog';
import {
  cliArgs,
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
const seconds = args.num('seconds', Number(process.env.BENCH_SECONDS ?? (quick ? 0.2 : 1)));
const runs = args.num('runs', Number(process.env.BENCH_RUNS ?? (quick ? 1 : 3)));
const outDir = outputDir(args, quick);
const value = Buffer.alloc(100, 'v');
const keys = Array.from({ length: 1000 }, (_, i) => `key-${i}`);
const results = [];
let caseNo = 0;

async function measureOnce(partitions, producerConfig, run) {
  execSync('sync');
  const dataDir = mkdtempSync(join(tmpdir(), 'ferrolog-pbench-'));
  const kafka = new Kafka({ dataDir, defaultNumPartitions: partitions, logLevel: 0 });
  const producer = kafka.producer(producerConfig);
  await producer.connect();
  const topic = `t${caseNo++}`;
  await run(producer, topic, 0.1); // warm-up
  const start = performance.now();
  const sent = await run(producer, topic, seconds);
  const elapsed = (performance.now() - start) / 1000;
  await producer.disconnect();
  // Honest by construction: the log must hold what was claimed (warm-up included).
  const log = Log.open(dataDir);
  let stored = 0;
  for (let p = 0; p < partitions; p++) stored += log.watermarks(topic, p).highWatermark;
  await log.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (stored < sent) throw new Error(`claimed ${sent} messages, the log holds ${stored}`);
  return sent / elapsed;
}

async function measure(name, partitions, producerConfig, run, durability = 'relaxed') {
  const rates = [];
  for (let r = 0; r < runs; r++) rates.push(await measureOnce(partitions, producerConfig, run));
  process.stderr.write(`${name} · ${partitions} partition(s) done\n`);
  results.push({ case: name, partitions, durability, rate: summarize(rates), samples: rates });
}

/** The reference: Log.append of pre-encoded 1000-record batches, round-robin over the partitions. */
async function logAppendOnce(partitions, durability) {
  execSync('sync');
  const dataDir = mkdtempSync(join(tmpdir(), 'ferrolog-pbench-'));
  const log = Log.open(dataDir);
  log.createTopic('t', { partitions, config: { flush: durability === 'strict' ? 'always' : 'none' } });
  const batch = encodeBatch(
    Array.from({ length: 1000 }, () => ({ key: null, value, timestamp: Date.now() })),
  );
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  for (let b = 0; performance.now() < end; b++) {
    const r = log.append('t', b % partitions, batch);
    if (typeof r !== 'number') await r;
    n += 1000;
  }
  const rate = n / ((performance.now() - start) / 1000);
  await log.close();
  rmSync(dataDir, { recursive: true, force: true });
  return rate;
}

async function measureLog(partitions, durability) {
  const rates = [];
  for (let r = 0; r < runs; r++) rates.push(await logAppendOnce(partitions, durability));
  results.push({
    case: `reference: Log.append of encoded 1000-record batches, ${durability === 'strict' ? "flush 'always'" : "flush 'none'"}`,
    partitions,
    durability,
    reference: true,
    rate: summarize(rates),
    samples: rates,
  });
}

function until(limitSeconds) {
  const end = performance.now() + limitSeconds * 1000;
  return () => performance.now() < end;
}

const arrays = (keyed) => async (producer, topic, limit) => {
  const more = until(limit);
  let n = 0;
  const messages = Array.from({ length: 1000 }, (_, i) => (keyed ? { key: keys[i], value } : { value }));
  while (more()) {
    await producer.send({ topic, messages });
    n += 1000;
  }
  return n;
};

const awaitedSingles = (keyed) => async (producer, topic, limit) => {
  const more = until(limit);
  let n = 0;
  while (more()) {
    for (let i = 0; i < 100; i++) {
      await producer.send({ topic, messages: [keyed ? { key: keys[i], value } : { value }] });
    }
    n += 100;
  }
  return n;
};

const concurrentSingles = (keyed) => async (producer, topic, limit) => {
  const more = until(limit);
  let n = 0;
  while (more()) {
    const sends = new Array(10_000);
    for (let i = 0; i < 10_000; i++) {
      sends[i] = producer.send({ topic, messages: [keyed ? { key: keys[i % 1000], value } : { value }] });
    }
    await Promise.all(sends);
    n += 10_000;
  }
  return n;
};

const concurrentSenders = (senders, keyed) => async (producer, topic, limit) => {
  const more = until(limit);
  let n = 0;
  await Promise.all(
    Array.from({ length: senders }, async (_, s) => {
      while (more()) {
        await producer.send({ topic, messages: [keyed ? { key: keys[s], value } : { value }] });
        n++;
      }
    }),
  );
  return n;
};

const machine = machineInfo();
process.stderr.write(`machine: ${machineLine(machine)}\n`);
if (quick) process.stderr.write(`${NOT_REPRESENTATIVE}\n`);

for (const partitions of [1, 8]) {
  const keyed = partitions > 1;
  await measureLog(partitions, 'relaxed');
  await measureLog(partitions, 'strict');
  for (const acks of [1, -1]) {
    const durability = acks === -1 ? 'strict' : 'relaxed';
    for (const compression of ['none', 'lz4', 'zstd']) {
      await measure(
        `send 1000-message arrays, acks ${acks}, ${compression}`,
        partitions,
        { acks, compression },
        arrays(keyed),
        durability,
      );
    }
    await measure(
      `awaited single sends, acks ${acks}`,
      partitions,
      { acks },
      awaitedSingles(keyed),
      durability,
    );
    await measure(
      `10 000 concurrent single sends, acks ${acks}`,
      partitions,
      { acks },
      concurrentSingles(keyed),
      durability,
    );
  }
  await measure(
    '256 concurrent senders, acks -1 (group commit)',
    partitions,
    { acks: -1 },
    concurrentSenders(256, keyed),
    'strict',
  );
}

const rows = results.map((r) => {
  const ref = results.find(
    (x) => x.reference && x.partitions === r.partitions && x.durability === r.durability,
  );
  const one = results.find((x) => x.case === r.case && x.partitions === 1);
  return {
    case: r.case,
    partitions: r.partitions,
    'msg/s (min-max)': fmtSummary(r.rate),
    '×Log.append (same partitions, durability)': r.reference ? '' : fmtRatio(ratioOf(r.rate, ref?.rate)),
    '×1 partition': r.partitions === 1 ? '' : fmtRatio(ratioOf(r.rate, one?.rate)),
  };
});
if (quick) console.log(NOT_REPRESENTATIVE);
console.log(`median (min-max) of ${runs} run(s) of ${seconds} s · 100 B values · ${machineLine(machine)}`);
console.table(rows);
const { jsonPath, mdPath } = writeResults(outDir, 'producer', {
  title: 'In-process producer (npm run bench:producer)',
  command: `node bench/producer.bench.mjs${quick ? ' --quick' : ''}`,
  quick,
  machine,
  options: { runs, seconds, valueBytes: 100 },
  data: { results },
  sections: [['Producer throughput', rows]],
  notes: [
    'acks 1 rows compare with Log.append at flush none, acks -1 rows with flush always. Each run uses a fresh data directory; the count each case claims is checked against the log afterwards. 8-partition cases use keys.',
  ],
});
console.log(`results: ${jsonPath}, ${mdPath}`);
