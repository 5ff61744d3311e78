// Producer throughput: `npm run bench:producer`.
// 100 B values; one and eight partitions; acks 1 and -1; compression
// none, lz4 and zstd. Each case runs for BENCH_SECONDS (default 1) after a
// short warm-up, and reads back the message count it claims to have sent.
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, Log } from 'ferrolog';

const seconds = Number(process.env.BENCH_SECONDS ?? 1);
const value = Buffer.alloc(100, 'v');
const keys = Array.from({ length: 1000 }, (_, i) => `key-${i}`);
const rows = [];
let caseNo = 0;

async function measure(name, partitions, producerConfig, run) {
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
  // Honest by construction: the log must hold what was claimed.
  const log = Log.open(dataDir);
  let stored = 0;
  for (let p = 0; p < partitions; p++) stored += log.watermarks(topic, p).highWatermark;
  await log.close();
  rmSync(dataDir, { recursive: true, force: true });
  rows.push({ case: name, partitions, 'msg/s': Math.round(sent / elapsed).toLocaleString('en-US'), stored });
  return stored;
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

for (const partitions of [1, 8]) {
  const keyed = partitions > 1;
  for (const acks of [1, -1]) {
    for (const compression of ['none', 'lz4', 'zstd']) {
      await measure(
        `send 1000-message arrays, acks ${acks}, ${compression}`,
        partitions,
        { acks, compression },
        arrays(keyed),
      );
    }
    await measure(`awaited single sends, acks ${acks}`, partitions, { acks }, awaitedSingles(keyed));
    await measure(
      `10 000 concurrent single sends, acks ${acks}`,
      partitions,
      { acks },
      concurrentSingles(keyed),
    );
  }
  await measure(
    '256 concurrent senders, acks -1 (group commit)',
    partitions,
    { acks: -1 },
    concurrentSenders(256, keyed),
  );
}

console.table(rows);
